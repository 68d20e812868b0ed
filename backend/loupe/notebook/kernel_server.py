"""The kernel's own model behind the real Loupe server (`serving`: uvicorn on a loopback port, in a thread).

A widget on a `HookedModel` talks to it exactly as it talks to a team's `loupe serve` (same protocol,
same sessions and batching scheduler), so there is one back end. The port takes a random token, so
other local users cannot drive the kernel's model. One server per model, shared by its widgets.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
from dataclasses import dataclass, field

from loupe.engine.model import HookedModel
from loupe.server.background import serving


@dataclass
class KernelServer:
    """A running in-kernel server: its WebSocket URL and token; `close` stops it."""

    url: str
    token: str
    stack: contextlib.ExitStack = field(repr=False)

    def close(self) -> None:
        self.stack.close()


_servers: dict[int, KernelServer] = {}
_lock = threading.Lock()


def kernel_server(model: HookedModel) -> KernelServer:
    """The loopback server of `model`, started on first use and kept for the kernel's life."""
    with _lock:
        running = _servers.get(id(model))
        if running is None:
            token = secrets.token_hex(16)
            stack = contextlib.ExitStack()
            url = stack.enter_context(serving(model, token=token))
            running = _servers[id(model)] = KernelServer(url, token, stack)
        return running
