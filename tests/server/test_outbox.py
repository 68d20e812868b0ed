"""The bounded outbound queue drops a client that stops reading instead of growing."""

from __future__ import annotations

import asyncio
import threading

from loupe.server.outbox import Outbox


async def test_overflow_discards_closes_and_reports_once() -> None:
    dropped: list[int] = []
    box = Outbox(asyncio.get_running_loop(), max_frames=3, max_bytes=1 << 20, on_overflow=lambda: dropped.append(1))
    for _ in range(5):
        box.put(b"x")
    assert dropped == [1] and box.closed
    assert await box.get() is None  # the queued frames were discarded at once


async def test_byte_limit_and_thread_safe_put() -> None:
    dropped: list[int] = []
    box = Outbox(asyncio.get_running_loop(), max_frames=100, max_bytes=10, on_overflow=lambda: dropped.append(1))
    t = threading.Thread(target=lambda: [box.put_threadsafe(b"12345") for _ in range(2)])
    t.start()
    t.join()
    assert await box.get() == b"12345" and await box.get() == b"12345"
    box.put(b"12345678901")
    assert dropped == [1]
