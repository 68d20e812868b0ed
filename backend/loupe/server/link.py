"""A session's way out: the bounded outbox, the task that writes it to the WebSocket, and closing.

A client that stops reading is dropped, with close code 1008 "client too slow", as soon as its queued
frames pass `max_outbound_frames` / `max_outbound_bytes` or one frame waits longer than
`slow_client_timeout_s` for the socket (the TCP buffers are full). Its queued frames are discarded at
once; if even the close frame cannot go out within `slow_client_timeout_s`, the TCP connection is aborted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from starlette.websockets import WebSocket

from loupe.server.limits import Limits
from loupe.server.origins import SERVER_SEND
from loupe.server.outbox import Outbox

log = logging.getLogger("loupe.server")


class Link:
    """Frames out to one WebSocket; `on_drop` is called once when the client is dropped for being too slow."""

    def __init__(self, ws: WebSocket, limits: Limits, on_drop: Callable[[], None]) -> None:
        self.ws = ws
        self.timeout = float(limits.slow_client_timeout_s)
        loop = asyncio.get_running_loop()
        self.outbox = Outbox(loop, limits.max_outbound_frames, limits.max_outbound_bytes, self._overflow)
        self.ended = asyncio.Event()  # set by close(): the session is over, only the socket is left to close
        self.close_with: tuple[int, str] | None = None
        self.dropped = False
        self._on_drop = on_drop
        self._sender: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop())

    def put(self, frame: bytes) -> None:
        self.outbox.put(frame)

    async def _send_loop(self) -> None:
        while (frame := await self.outbox.get()) is not None:
            try:
                await asyncio.wait_for(self.ws.send_bytes(frame), self.timeout)
            except TimeoutError:
                self.drop(f"a frame waited over {self.timeout:g} s for the socket (slow_client_timeout_s)")
                return

    def _overflow(self) -> None:
        self.drop("its queued frames passed max_outbound_frames / max_outbound_bytes")

    def drop(self, why: str) -> None:
        """Forget the queued frames and end the session: the client does not read what it asked for."""
        if self.dropped:
            return
        self.dropped = True
        log.warning("dropping a client that does not read: %s", why)
        self.outbox.clear()
        self._on_drop()

    def close(self, code: int, reason: str) -> None:
        """End the session: what is queued still goes out (unless dropped), then a close frame with `code`."""
        if self.close_with is None:
            self.close_with = (code, reason)
        self.outbox.close()
        self.ended.set()

    async def finish(self) -> None:
        """After the session: flush and close as `close()` asked, within `slow_client_timeout_s`; a client
        that does not take even that loses its TCP connection. A client that left gets nothing."""
        sender = self._sender
        assert sender is not None
        if self.close_with is None or self.dropped:
            sender.cancel()
        await self._within_timeout(sender)

    async def _within_timeout(self, sender: asyncio.Task[None]) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                await asyncio.gather(sender, return_exceptions=True)
                if self.close_with is not None:
                    code, reason = self.close_with
                    await self.ws.close(code=code, reason=reason)
        except TimeoutError:
            sender.cancel()
            abort_transport(self.ws)
        except Exception:  # the client is gone already
            log.debug("closing a WebSocket that is gone", exc_info=True)


def abort_transport(ws: WebSocket) -> None:
    """Drop the TCP connection under `ws` at once, discarding what it still buffers (uvicorn's transport)."""
    send = ws.scope.get(SERVER_SEND)  # uvicorn's send is a method of its protocol object, which has the transport
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)  # asyncio's or uvloop's transport
    if callable(abort):
        log.warning("aborting the TCP connection of a client that does not read even the close frame")
        with contextlib.suppress(Exception):
            abort()
