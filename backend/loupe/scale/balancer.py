"""The front door of a scaled-out Loupe: the web UI, /api/* over every replica, and /ws passed through to
the replica with the fewest sessions (`?model=NAME` picks the model; the first one by default)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket
from websockets.exceptions import InvalidHandshake

from loupe.codec import pack
from loupe.scale.proxy import open_upstream, pipe
from loupe.scale.registry import Registry, Replica
from loupe.server.app import ORJSONResponse, static_dir
from loupe.server.origins import HostCheck, host_policy, origin_allowed, parse_origins
from loupe.wire import PROTOCOL_VERSION

log = logging.getLogger("loupe.scale")
HEALTH_TIMEOUT_S = 10.0


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as answer:
        return json.loads(answer.read())


async def replica_health(r: Replica) -> dict[str, Any]:
    """One replica's /api/health, with where it runs; `status: unreachable` when it does not answer."""
    where = {"replica": r.replica, "model": r.model, "url": r.url, "pid": r.pid, "node": r.node}
    try:
        body = await asyncio.to_thread(_get_json, f"{r.http}/api/health")
    except (OSError, ValueError) as exc:
        return {**where, "status": "unreachable", "error": str(exc)}
    return {**body, **where, "proxied_sessions": r.sessions}


async def refuse(ws: WebSocket, code: str, message: str, close_code: int) -> None:
    """Accept, say why in an `error` frame, close."""
    await ws.accept()
    with contextlib.suppress(Exception):
        await ws.send_bytes(pack({"type": "error", "code": code, "message": message}))
        await ws.close(code=close_code, reason=message[:120])


def create_balancer(
    registry: Registry,
    max_frame_bytes: int,
    allowed_origins: Iterable[str] = (),
    static: Path | None = None,
    bind: str = "127.0.0.1",
    allowed_hosts: Iterable[str] = (),
) -> Starlette:
    """The balancer's ASGI app; replicas appear in `registry` through their heartbeats. Origin and Host
    are checked as `loupe serve` checks them; the replicas check the token in `hello`."""
    allowed = parse_origins(allowed_origins)

    def lost(r: Replica) -> None:
        log.warning("replica %s at %s lost; its sessions are closed with 1012", r.replica, r.url)
        registry.drop(r.replica)

    async def ws_endpoint(ws: WebSocket) -> None:
        if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), allowed):
            await ws.close(code=1008, reason="origin not allowed")  # before accept: HTTP 403
            return
        model = ws.query_params.get("model")
        candidates = registry.choose(model)
        if not candidates:
            served = ", ".join(registry.models()) or "none yet"
            if model is not None and model not in registry.models():
                await refuse(ws, "bad_message", f"model: no replica serves {model!r} (serving: {served})", 1008)
            else:
                await refuse(ws, "busy", "no live replica; try again later", 1013)
            return
        for r in candidates:
            try:
                upstream = await open_upstream(r.url, max_frame_bytes)
            except (OSError, InvalidHandshake, asyncio.TimeoutError) as exc:
                log.warning("replica %s at %s refused a session: %s", r.replica, r.url, exc)
                registry.drop(r.replica)
                continue
            await ws.accept()
            registry.opened(r, 1)
            try:
                await pipe(ws, upstream, functools.partial(lost, r))
            finally:
                registry.opened(r, -1)
            return
        await refuse(ws, "busy", "no live replica answered; try again later", 1013)

    async def health(request: Request) -> Response:
        replicas = await asyncio.gather(*(replica_health(r) for r in registry.live()))
        answering = [r for r in replicas if r.get("status") == "ok"]
        body = {
            "status": "ok" if answering and len(answering) == len(replicas) else "degraded",
            "protocol": PROTOCOL_VERSION,
            "models": registry.models(),
            "sessions": sum(r["sessions"] for r in answering),
            "jobs": sum(r["jobs"] for r in answering),
            "pending": sum(r["pending"] for r in answering),
            "replicas": replicas,
        }
        return ORJSONResponse(body, status_code=200 if answering else 503)

    async def model_endpoint(request: Request) -> Response:
        candidates = registry.choose(request.query_params.get("model"))
        for r in candidates:
            with contextlib.suppress(OSError, ValueError):
                return ORJSONResponse(await asyncio.to_thread(_get_json, f"{r.http}/api/model"))
        return ORJSONResponse({"error": "no live replica serves that model"}, status_code=503)

    async def no_ui(request: Request) -> Response:
        return PlainTextResponse("Loupe balancer is running; the web UI is not built (run `make frontend`).\n")

    dist = static if static is not None else static_dir()
    routes: list[Any] = [
        WebSocketRoute("/ws", ws_endpoint),
        Route("/api/health", health),
        Route("/api/model", model_endpoint),
        Mount("/", StaticFiles(directory=dist, html=True)) if dist else Route("/", no_ui),
    ]
    middleware = [Middleware(HostCheck, allowed_hosts=host_policy(bind, allowed_hosts))]
    app = Starlette(routes=routes, middleware=middleware)
    app.state.registry = registry
    return app
