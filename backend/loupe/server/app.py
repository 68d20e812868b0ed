"""The Starlette app: WebSocket sessions at /ws, JSON at /api/*, the built web UI at /."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from loupe.server.jobs import Host
from loupe.server.limits import Limits
from loupe.server.protocol import PROTOCOL_VERSION
from loupe.server.session import Session, model_info

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

REPO_DIST = Path(__file__).resolve().parents[3] / "frontend" / "dist"


class ORJSONResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def static_dir() -> Path | None:
    """The built SPA: $LOUPE_STATIC, else frontend/dist of this checkout; None when not built."""
    path = Path(os.environ["LOUPE_STATIC"]) if os.environ.get("LOUPE_STATIC") else REPO_DIST
    return path if (path / "index.html").is_file() else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def origin_allowed(origin: str | None, host_header: str | None) -> bool:
    """Browsers send Origin: accept the page's own host, or any loopback page when serving on loopback."""
    if origin is None:  # scripts and CLI clients
        return True
    origin_host = urlsplit(origin).hostname or ""
    server_host = urlsplit(f"//{host_header or ''}").hostname or ""
    if origin_host == server_host:
        return True
    return is_loopback(origin_host) and is_loopback(server_host)


def create_app(
    model: HookedModel, limits: Limits | None = None, token: str | None = None, static: Path | None = None
) -> Starlette:
    """An ASGI app serving `model`; `token`, when set, must come in every session's hello."""
    host = Host(model, limits or Limits())
    sessions: set[Session] = set()

    async def ws_endpoint(ws: WebSocket) -> None:
        if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host")):
            await ws.close(code=1008, reason="origin not allowed")
            return
        session = Session(ws, host, token)
        sessions.add(session)
        try:
            await session.serve()
        finally:
            sessions.discard(session)

    async def health(request: Request) -> Response:
        batches = host.scheduler.batches_run if host.scheduler is not None else None
        body = {
            "status": "ok",
            "protocol": PROTOCOL_VERSION,
            "sessions": len(sessions),
            "model": model.cfg.name,
            "batches": batches,
        }
        return ORJSONResponse(body)

    async def model_endpoint(request: Request) -> Response:
        return ORJSONResponse({**model_info(host), "limits": host.limits.public()})

    async def no_ui(request: Request) -> Response:
        return PlainTextResponse(
            "Loupe server is running; the web UI is not built (run `make frontend`). "
            "WebSocket: /ws, JSON: /api/health, /api/model.\n"
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        host.close()

    dist = static if static is not None else static_dir()
    routes: list[Any] = [
        WebSocketRoute("/ws", ws_endpoint),
        Route("/api/health", health),
        Route("/api/model", model_endpoint),
    ]
    routes.append(Mount("/", StaticFiles(directory=dist, html=True)) if dist else Route("/", no_ui))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.host = host
    return app
