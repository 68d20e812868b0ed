"""Serve a model from a background thread on a free loopback port (tests, benchmarks, notebooks)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import uvicorn

from loupe.engine.compute import light_thread
from loupe.server.app import create_app
from loupe.server.limits import Limits

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


def websocket_options(max_bytes: int, deflate: bool = False) -> dict[str, Any]:
    """uvicorn's WebSocket settings for every Loupe server (`loupe serve`, `serving`, the Ray front): frames up to
    `max_bytes`, and permessage-deflate only when asked (compressing a run's f16 frames costs more CPU than a
    loopback or LAN link saves)."""
    return {"ws_max_size": max_bytes, "ws_per_message_deflate": deflate, "log_level": "warning"}


@contextlib.contextmanager
def serving(
    model: HookedModel,
    limits: Limits | None = None,
    host: str = "127.0.0.1",
    token: str | None = None,
    allowed_origins: Iterable[str] = (),
    replica: str | None = None,
    deflate: bool = False,
) -> Iterator[str]:
    """Start uvicorn on a free port in a daemon thread, yield its WebSocket URL, stop it on exit.

    `deflate` lets clients negotiate permessage-deflate (`websocket_options`)."""
    limits = limits or Limits()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    app = create_app(model, limits, token=token, allowed_origins=allowed_origins, bind=host, replica=replica)
    config = uvicorn.Config(app, lifespan="on", **websocket_options(limits.transport_max_bytes, deflate))
    server = uvicorn.Server(config)

    def run() -> None:
        light_thread()  # the event loop's torch ops (decoding frames) fork no OpenMP team (engine/compute.py)
        server.run(sockets=[sock])

    thread = threading.Thread(target=run, daemon=True, name="loupe-server")
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the background Loupe server did not start")
        time.sleep(0.01)
    try:
        yield f"ws://{host}:{port}/ws"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
