"""The Starlette app: WebSocket sessions at /ws, JSON at /api/*, the built web UI at /."""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import AsyncIterator, Iterable
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

from loupe.codec import pack
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


def parse_origins(text: str | Iterable[str] | None) -> frozenset[str]:
    """An allowlist from `--allowed-origins` / LOUPE_ALLOWED_ORIGINS: comma-separated origins
    (`https://lab.example.org`, `http://10.0.0.5:5173`) or bare host names (`lab.example.org`, any port)."""
    if text is None:
        return frozenset()
    items = text.split(",") if isinstance(text, str) else list(text)
    return frozenset(i.strip().rstrip("/").lower() for i in items if i.strip())


def _normal_origin(origin: str) -> str:
    parts = urlsplit(origin.strip().lower())
    default = {"http": 80, "https": 443}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        return origin
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def origin_allowed(origin: str | None, host_header: str | None, allowed: Iterable[str] = ()) -> bool:
    """Browsers send Origin: accept the page's own host, any loopback page when serving on loopback,
    and the operator's allowlist (full origins, or host names meaning any scheme and port)."""
    if origin is None:  # scripts and CLI clients
        return True
    origin_host = urlsplit(origin).hostname or ""
    server_host = urlsplit(f"//{host_header or ''}").hostname or ""
    if origin_host and origin_host == server_host:
        return True
    if is_loopback(origin_host) and is_loopback(server_host):
        return True
    for entry in allowed:
        if "://" in entry:
            if _normal_origin(entry) == _normal_origin(origin):
                return True
        elif origin_host and entry == origin_host:
            return True
    return False


def create_app(
    model: HookedModel,
    limits: Limits | None = None,
    token: str | None = None,
    static: Path | None = None,
    allowed_origins: Iterable[str] = (),
) -> Starlette:
    """An ASGI app serving `model`; `token`, when set, must come in every session's hello.

    `allowed_origins` adds browser origins (or host names) to the same-host / loopback rule."""
    host = Host(model, limits or Limits())
    sessions: set[Session] = set()
    allowed = parse_origins(allowed_origins)

    async def ws_endpoint(ws: WebSocket) -> None:
        if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), allowed):
            await ws.close(code=1008, reason="origin not allowed")  # before accept: HTTP 403
            return
        if len(sessions) >= host.limits.max_sessions:
            await refuse_full(ws, host.limits.max_sessions)
            return
        session = Session(ws, host, token)
        sessions.add(session)
        try:
            await session.serve()
        finally:
            sessions.discard(session)

    async def health(request: Request) -> Response:
        scheduler = host.scheduler
        body = {
            "status": "ok",
            "protocol": PROTOCOL_VERSION,
            "sessions": len(sessions),
            "max_sessions": host.limits.max_sessions,
            "model": model.cfg.name,
            "batches": scheduler.batches_run if scheduler is not None else None,
            "jobs": sum(len(s.jobs) for s in sessions),  # queued or running, all sessions
            "pending": scheduler.pending() if scheduler is not None else 0,  # runs waiting for a batch
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
    app.state.sessions = sessions
    return app


async def refuse_full(ws: WebSocket, max_sessions: int) -> None:
    """One session too many: accept, say why in an `error` frame, close with 1013 (try again later)."""
    await ws.accept()
    message = f"the server already has its maximum of {max_sessions} sessions (max_sessions); try again later"
    with contextlib.suppress(Exception):
        await ws.send_bytes(pack({"type": "error", "code": "busy", "message": message}))
        await ws.close(code=1013, reason="server full")
