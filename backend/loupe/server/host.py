"""The host and the job context: the server's one model, the worker threads jobs run on and the cross-session
batching scheduler (`Host`); what a job is handed (`JobContext`) and what it hands back (`Commit`).

A job function runs on a worker thread of the `Host`, streams frames through `JobContext.emit`
(encoded on that thread, queued with `loop.call_soon_threadsafe`) and may return a `Commit`,
which the session applies on the event loop to store results and build the final reply.
Forward passes take turns across sessions on the model's lock (engine/turns.py); `Host.forward` puts a
`run` and its clean twin into the cross-session batching scheduler when there is one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from loupe.analysis.lens_decoder import lens_decoder
from loupe.codec import pack
from loupe.engine.allocator import SERVER_MMAP_BYTES, keep_freed_memory, release_periodically
from loupe.engine.compute import ComputeThread, light_thread
from loupe.engine.result import RunResult
from loupe.engine.scheduler import Scheduler
from loupe.engine.turns import as_key
from loupe.errors import Cancelled
from loupe.hooks.context import LayerCallback
from loupe.server.clean_logits import CleanLogits
from loupe.server.limits import Limits
from loupe.server.protocol import Request
from loupe.server.state import LastRun, SessionState, Snapshot
from loupe.server.summaries import BatchLens, LensSlot

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


T = TypeVar("T")
Commit = Callable[[SessionState], "dict[str, Any] | None"]


class Host:
    """The one model of the server, the worker threads jobs run on, and the cross-session batching scheduler."""

    def __init__(
        self, model: HookedModel, limits: Limits, workers: int = 8, batching: bool = True, release_every_s: float = 30.0
    ) -> None:
        """`release_every_s`: how often freed memory goes back to the OS (engine/allocator.py says why)."""
        self.model = model
        self.limits = limits
        if model.compute is None or model.compute.closed:  # hosts of one model share it; the last to close ends it
            model.compute = ComputeThread()
        self.compute = model.compute
        self.compute.hold()
        self.lens = self.compute.call(lambda: lens_decoder(model))  # (it times a product: where passes run)
        # job threads run torch single-threaded; passes go to the compute thread (engine/compute.py says why)
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="loupe-job", initializer=light_thread)
        self.scheduler = Scheduler(model, layer_hook=BatchLens(self.lens)) if batching else None
        self.clean = CleanLogits()
        keep_freed_memory(mmap_bytes=SERVER_MMAP_BYTES)
        self._stop_release = threading.Event()
        self.releaser = release_periodically(release_every_s, self._stop_release)

    async def execute(self, fn: Callable[[], T], key: str) -> T:
        """Run `fn` on a worker thread; its forward passes take turns with other sessions' as `key`.

        Cancelled while still queued for a thread (its session ended), the queued item lets go of `fn` at once:
        on a busy server it may wait long for a thread, and `fn` holds the job and all it refers to."""
        box = [fn]
        del fn  # a cancelled wait's exception keeps this frame, and the queued item keeps that exception

        def keyed() -> T:
            if not box:
                raise Cancelled("the job was cancelled before a worker thread took it")
            job = box.pop()
            with as_key(key):
                return job()

        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, keyed)
        finally:
            box.clear()

    def forward(
        self,
        key: str,
        tokens: torch.Tensor,
        capture: list[str],
        stream: list[str],
        snapshot: Snapshot,
        on_layer: LayerCallback,
        cancel: threading.Event,
        slot: LensSlot | None = None,
    ) -> tuple[RunResult, torch.Tensor]:
        """The intervened run of `tokens` [1, pos] (streamed to `on_layer`, row 0 of its tensors) and the
        clean run's last-position logits (from `clean` when the prompt ran before: then no clean twin row);
        batched with other sessions' runs when there is a scheduler.
        `stream` points reach `on_layer` only, so per-layer summaries do not pile up in memory; `slot` receives
        the row's lens, decoded with the whole batch's."""
        intervened = bool(snapshot.interventions)
        known = self.clean.get(tokens) if intervened else None
        twin = intervened and known is None  # the clean logits must be computed alongside
        if self.scheduler is None:
            batch = tokens.repeat(2, 1) if twin else tokens
            res = self.model.run(
                batch,
                capture=capture,
                interventions=snapshot.rows([0]),
                on_layer=on_layer,
                sources=snapshot.sources,
                vectors=snapshot.vectors,
                cancel=cancel,
                stream=stream,
            )
            clean = res.logits[-1, -1]
        else:
            with self.scheduler.together():  # the clean row rides in the same forward pass
                main = self.scheduler.submit(
                    key,
                    tokens,
                    capture,
                    snapshot.interventions,
                    on_layer,
                    snapshot.sources,
                    snapshot.vectors,
                    cancel,
                    stream,
                    slot,
                    last_logits=True,  # a run uses the last position's logits only: no unembedding of the rest
                )
                other = self.scheduler.submit(key, tokens, cancel=cancel, last_logits=True) if twin else None
            res = _wait(main, cancel)
            clean = (_wait(other, cancel) if other is not None else res).logits[0, -1]
        if known is not None:
            return res, known
        self.clean.put(tokens, clean)
        return res, clean

    def close(self) -> None:
        self._stop_release.set()
        if self.scheduler is not None:
            self.scheduler.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.compute.release() and self.model.compute is self.compute:
            self.model.compute = None  # passes run on the caller's thread again


def _wait(future: Future[RunResult], cancel: threading.Event) -> RunResult:
    """The future's result; Cancelled as soon as `cancel` is set (the batch may still be running)."""
    while True:
        try:
            return future.result(timeout=0.05)
        except TimeoutError:
            if cancel.is_set():
                raise Cancelled("cancelled") from None


@dataclass
class JobContext:
    host: Host
    session: str  # the session id: the scheduler's fairness key
    request: Request
    snapshot: Snapshot
    cancel: threading.Event
    emit_frame: Callable[[bytes], None]
    last_run: LastRun | None = None

    def emit(self, message: dict[str, Any]) -> None:
        self.emit_frame(pack({**message, "id": self.request.id}))
