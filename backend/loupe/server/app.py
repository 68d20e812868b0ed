"""The Starlette app: WebSocket sessions at /ws, JSON at /api/*, the built web UI at /."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from loupe.codec import pack
from loupe.server.host import Host
from loupe.server.limits import Limits
from loupe.server.origins import HostCheck, host_policy, origin_allowed, parse_origins
from loupe.server.requests import model_info
from loupe.server.session import Session
from loupe.wire import PROTOCOL_VERSION

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


def create_app(
    model: HookedModel,
    limits: Limits | None = None,
    token: str | None = None,
    static: Path | None = None,
    allowed_origins: Iterable[str] = (),
    bind: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
    replica: str | None = None,
) -> Starlette:
    """An ASGI app serving `model`; `token`, when set, must come in every session's hello.

    `allowed_origins` adds browser origins (or host names) to the same-host / loopback rule. A server
    whose `bind` address is loopback answers only to loopback `Host` names plus `allowed_hosts`.
    `replica` names this server among several behind a balancer (in `welcome` and /api/health)."""
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
        session = Session(ws, host, token, replica)
        sessions.add(session)
        try:
            await session.serve()
        finally:
            sessions.discard(session)  # at once, even while a client that does not read holds its socket
        await session.link.finish()

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
        return ORJSONResponse(body if replica is None else {**body, "replica": replica})

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
    middleware = [Middleware(HostCheck, allowed_hosts=host_policy(bind, allowed_hosts))]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
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
