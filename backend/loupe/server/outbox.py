"""A session's bounded outbound queue of encoded frames, fed from worker threads and the event loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


class Outbox:
    """Frames wait here until the sender task writes them; a client that falls too far behind is dropped."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        max_frames: int,
        max_bytes: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._max_frames, self._max_bytes = max_frames, max_bytes
        self._bytes = 0
        self._on_overflow = on_overflow
        self.closed = False

    def put(self, frame: bytes) -> None:
        """Queue a frame (event-loop thread only)."""
        if self.closed:
            return
        if self._queue.qsize() >= self._max_frames or self._bytes + len(frame) > self._max_bytes:
            self.clear()
            self._on_overflow()
            return
        self._bytes += len(frame)
        self._queue.put_nowait(frame)

    def put_threadsafe(self, frame: bytes) -> None:
        """Queue a frame from a worker thread."""
        with contextlib.suppress(RuntimeError):  # RuntimeError: the loop is gone, so is the session
            self._loop.call_soon_threadsafe(self.put, frame)

    async def get(self) -> bytes | None:
        """The next frame, or None once the outbox is closed."""
        frame = await self._queue.get()
        if frame is not None:
            self._bytes -= len(frame)
        return frame

    def clear(self) -> None:
        """Discard every queued frame (their memory goes back now) and close: nothing more goes out."""
        while not self._queue.empty():
            self._queue.get_nowait()
        self._bytes = 0
        self.closed = False
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(None)
