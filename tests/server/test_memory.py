"""Nothing a job or a session held stays behind once it is over (issue 10: the server's RSS kept growing
in bench/soak_hostile.py). Checked on the objects themselves (gc), not on RSS, which the allocator keeps."""

from __future__ import annotations

import asyncio
import functools
import gc
import threading
import weakref
from collections.abc import Callable

import pytest

from loupe.analysis.lens_decoder import LensDecoder, lens_decoder
from loupe.engine import allocator
from loupe.server.host import Host
from loupe.server.session import Session
from loupe.server.session_model import SessionModel
from tests.server.conftest import TEST_LIMITS, Server
from tests.server.wire import Raw

PROMPT = "When Mary and John went to the store, John gave a drink to"


async def eventually(count: Callable[[], int], want: int) -> int:
    """`count()` once it equals `want` (or after 10 s: the last value), collecting garbage in between."""
    got = -1
    for _ in range(100):
        gc.collect()
        got = count()
        if got == want:
            break
        await asyncio.sleep(0.1)
    return got


def alive(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))


async def test_analyses_share_the_models_lens_decoder_and_keep_nothing(server: Server) -> None:
    """Each `analyze` sees the model through a per-job `SessionModel`; the lens decoder (with its 54 MB bf16
    copy of SmolLM2's unembedding) must be the model's one, not a new one per job kept forever."""
    weight = server.model.hf.get_output_embeddings().weight.data_ptr()

    def decoders() -> int:
        return sum(1 for o in gc.get_objects() if isinstance(o, LensDecoder) and o.weight.data_ptr() == weight)

    lens_decoder(server.model)
    c = await Raw.connect(server.url)
    for i in range(3):
        message = {"type": "analyze", "id": i, "kind": "logit_lens", "prompt": PROMPT, "k": 3}
        frames = await c.request(message, streaming=True)
        assert frames[-1]["type"] == "done" and not frames[-1]["cancelled"], frames[-1]
    await c.close()
    assert await eventually(decoders, 1) == 1
    assert await eventually(lambda: alive(SessionModel), 0) == 0


async def test_closed_sessions_are_freed(server: Server) -> None:
    before = await eventually(lambda: alive(Session), 0)
    clients = [await Raw.connect(server.url) for _ in range(4)]
    for i, c in enumerate(clients):
        frames = await c.request({"type": "run", "id": i, "prompt": PROMPT}, streaming=True)
        assert frames[-1]["type"] == "done"
        [saved] = await c.request({"type": "runs.save", "id": "s", "name": "r", "prompt": PROMPT}, streaming=False)
        assert saved["type"] == "runs"
    assert alive(Session) == before + 4
    for c in clients:
        await c.close()
    assert await eventually(lambda: alive(Session), before) == before


class Held:
    """Stands for what a job holds (its session's snapshot, last run, outbox)."""


async def test_a_job_cancelled_while_waiting_for_a_worker_holds_nothing(server: Server) -> None:
    host = Host(server.model, TEST_LIMITS, workers=1, batching=False)
    gate = threading.Event()
    try:
        busy = asyncio.create_task(host.execute(lambda: gate.wait(60), "a"))  # the only worker thread
        held = Held()
        ref = weakref.ref(held)
        queued = asyncio.create_task(host.execute(functools.partial(id, held), "b"))
        del held
        await asyncio.sleep(0.1)
        queued.cancel()  # what a session's end does to its job loop
        with pytest.raises(asyncio.CancelledError):
            await queued
        del queued  # its CancelledError's traceback holds execute's frame, as a session's task list would
        gc.collect()
        assert ref() is None  # freed while the worker is still busy and the item still queued
        gate.set()
        assert await busy
    finally:
        gate.set()
        host.close()


def test_the_host_gives_freed_memory_back_until_closed(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """Freed memory the worker threads' arenas keep goes back to the OS periodically (tests/engine/test_allocator.py
    shows it is kept otherwise); closing the host stops that."""
    calls = threading.Semaphore(0)
    monkeypatch.setattr(allocator, "release_freed_memory", lambda: calls.release() or True)
    host = Host(server.model, TEST_LIMITS, workers=1, batching=False, release_every_s=0.01)
    try:
        assert all(calls.acquire(timeout=60) for _ in range(2))
    finally:
        host.close()
    host.releaser.join(timeout=60)
    assert not host.releaser.is_alive()
