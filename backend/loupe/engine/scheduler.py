"""Cross-session batching: runs from many sessions share forward passes, each row keeping its own interventions.

Requests are checked and their interventions bound when submitted (so a bad one fails at once and alone).
A worker thread takes requests round-robin across keys (sessions) up to `max_rows` rows and `max_tokens`
padded tokens, right-pads them into one batch and runs it; each row's interventions carry `rows=(i,)`
and absolute positions, its captures are cut back to its own length, and its `on_layer` sees only its own
tensors. Right padding leaves every real position's computation unchanged under a causal mask.
After a batch that held several keys, the worker waits up to `gather_s` for each of them to queue its next
request before taking the next batch: sessions that send runs back to back then keep sharing passes instead
of splitting into a fast first-comer batch and the rest. A lone key never waits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from loupe.engine.compute import light_thread
from loupe.engine.layer_groups import LayerGroups
from loupe.engine.plan import InterventionsIn, RunPlan, plan
from loupe.engine.result import RunResult
from loupe.errors import Cancelled
from loupe.hooks.apply import Bound, Where
from loupe.hooks.context import LayerCallback

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

POS_SYMBOLS = ("pos", "query_pos", "key_pos")


@dataclass
class _Request:
    key: str
    tokens: torch.Tensor  # [pos]
    capture: list[str]
    bound: list[Bound]
    on_layer: LayerCallback | None
    cancel: threading.Event | None
    stream: list[str]
    tag: object = None  # handed to the scheduler's `layer_hook` with this row's tensors
    last_logits: bool = False  # the result's logits are the last position's only
    joined: bool = False  # runs in the same batch as the request queued before it (see `together`)
    future: Future[RunResult] = field(default_factory=Future)

    def wants(self, name: str) -> bool:
        return name in self.capture or name in self.stream

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()


# [(layer, [(tag, row tensors), ...]), ...]: a group of finished layers (engine/layer_groups.py), every live row
LayerHook = Callable[[list[tuple[int, list[tuple[object, dict[str, torch.Tensor]]]]]], None]


class Scheduler:
    """Batches `submit`ted runs onto one model, fairly across keys; `close` stops the worker.

    `layer_hook([(layer, [(tag, row tensors), ...]), ...])`, when given, sees every live row of a group of
    finished layers at once (`group_ends`), before the rows' own `on_layer` callbacks for those layers: work
    shared across rows and layers (one logit-lens product for all of them) goes there, handed back to each
    row through the `tag` it was submitted with.
    """

    def __init__(
        self,
        model: HookedModel,
        max_rows: int = 16,
        max_tokens: int = 8192,
        layer_hook: LayerHook | None = None,
        gather_s: float = 0.05,
    ) -> None:
        self.model, self.max_rows, self.max_tokens = model, max_rows, max_tokens
        self.layer_hook, self.gather_s = layer_hook, gather_s
        self._last_keys: frozenset[str] = frozenset()  # the keys of the last batch
        self._queues: OrderedDict[str, deque[_Request]] = OrderedDict()
        self._cv = threading.Condition()
        self._closed = False
        self._group: str | None = None  # inside `together`: the key of the last request submitted
        self.batches_run = 0
        self._worker = threading.Thread(target=self._loop, name="loupe-scheduler", daemon=True)
        self._worker.start()

    def submit(
        self,
        key: str,
        inputs: str | torch.Tensor,
        capture: Sequence[str] | str = (),
        interventions: InterventionsIn = None,
        on_layer: LayerCallback | None = None,
        sources: Mapping[str, Any] | None = None,
        vectors: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
        stream: Sequence[str] | str = (),
        tag: object = None,
        last_logits: bool = False,
    ) -> Future[RunResult]:
        """Queue one prompt; raises LoupeError now for a bad prompt, capture or intervention.

        `stream` names points that only `on_layer` receives (not kept in the result); `tag` goes to `layer_hook`.
        With `last_logits` the result's logits are [1, 1, d_vocab], the last position's: when every row of a pass
        asks for that (and none captures `logits`), the pass unembeds only those positions (`logits_to_keep`).
        """
        tokens, _ = self.model.encode(inputs)
        if tokens.shape[0] != 1:
            raise ValueError("submit takes one prompt; submit each row of a batch separately")
        todo = plan(self.model, tokens.shape[1], capture, interventions, sources, vectors, stream)
        request = _Request(key, tokens[0], todo.capture, todo.bound, on_layer, cancel, todo.stream, tag, last_logits)
        with self._cv:
            if self._closed:
                raise RuntimeError("the scheduler is closed")
            if self._group is not None:
                request.joined = self._group == key
                self._group = key
            self._queues.setdefault(key, deque()).append(request)
            self._cv.notify()
        return request.future

    @contextlib.contextmanager
    def together(self) -> Iterator[None]:
        """Requests of one key submitted inside this block run as rows of the same batch (a run and its clean
        twin: one forward pass, not two turns of the round-robin)."""
        with self._cv:  # a re-entrant lock: the worker cannot take a half-submitted group
            self._group = ""
            try:
                yield
            finally:
                self._group = None

    def pending(self, key: str | None = None) -> int:
        with self._cv:
            if key is not None:
                return len(self._queues.get(key, ()))
            return sum(len(q) for q in self._queues.values())

    def forget(self, key: str) -> None:
        """Drop every queued request of `key` (a session that ended) now, not when its turn comes: a queued
        request holds its session's job, and through it everything that session kept."""
        with self._cv:
            queue = self._queues.pop(key, deque())
        for request in queue:
            request.future.set_exception(Cancelled("the session ended"))

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._worker.join(timeout=5)

    def _take(self) -> list[_Request]:
        """Round-robin over keys: one request per key per round until a cap is reached."""
        batch: list[_Request] = []
        longest = 0
        while self._queues and len(batch) < self.max_rows:
            key, queue = next(iter(self._queues.items()))
            request = queue[0]
            width = max(longest, request.tokens.shape[0])
            if batch and width * (len(batch) + 1) > self.max_tokens:
                break
            queue.popleft()
            self._queues.move_to_end(key)  # this key waits for the others' turn
            if not queue:
                del self._queues[key]
            if request.cancelled:
                request.future.set_exception(Cancelled("cancelled before it ran"))
                continue
            batch.append(request)
            longest = width
            while key in self._queues and self._queues[key][0].joined:  # its twins come along, past the caps
                twin = self._queues[key].popleft()
                if not self._queues[key]:
                    del self._queues[key]
                batch.append(twin)
                longest = max(longest, twin.tokens.shape[0])
        return batch

    def _loop(self) -> None:
        if self.model.compute is not None:  # passes run there: this thread only builds batches
            light_thread()
        while True:
            with self._cv:
                while not self._queues and not self._closed:
                    self._cv.wait()
                if self._closed:
                    for queue in self._queues.values():
                        for request in queue:
                            request.future.set_exception(Cancelled("the server is shutting down"))
                    return
                self._gather()
                batch = self._take()
                self._last_keys = frozenset(r.key for r in batch)
            if batch:
                self._run(batch)
            del batch  # wait for the next one without keeping this one's requests (sessions, results) alive

    def _gather(self) -> None:
        """After a batch of several keys, wait (at most `gather_s`) until each of them has a request queued."""
        if len(self._last_keys) < 2:
            return
        deadline = time.monotonic() + self.gather_s
        while not self._closed and not self._last_keys <= self._queues.keys():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self._cv.wait(left)

    def _run(self, batch: list[_Request]) -> None:
        try:
            results = self._forward(batch)
        except Exception as exc:  # one bad row must not fail the others: run each alone to find it
            if len(batch) == 1 or isinstance(exc, Cancelled):
                for request in batch:
                    request.future.set_exception(Cancelled("cancelled") if request.cancelled else exc)
                return
            for request in batch:
                self._run([request])
            return
        for request, result in zip(batch, results, strict=True):
            if request.cancelled or result is None:  # (None: a row cancelled and dropped mid-pass)
                request.future.set_exception(Cancelled("cancelled"))
            else:
                request.future.set_result(result)

    def _forward(self, batch: list[_Request]) -> list[RunResult | None]:
        model = self.model
        lengths = [r.tokens.shape[0] for r in batch]
        width = max(lengths)
        pad = model.tokenizer.pad_token_id if model.tokenizer is not None else 0
        tokens = torch.full((len(batch), width), int(pad or 0), dtype=torch.long, device=model.device)
        mask = torch.zeros_like(tokens)
        for i, r in enumerate(batch):
            tokens[i, : lengths[i]] = r.tokens
            mask[i, : lengths[i]] = 1
        bound = [_for_row(b, i, lengths[i]) for i, r in enumerate(batch) for b in r.bound]
        capture = sorted({n for r in batch for n in r.capture}, key=model.points.names.index)
        stream = sorted({n for r in batch for n in r.stream} - set(capture))

        # with a layer hook, layers go on in groups (interventions are out of place: later layers leave them be)
        groups: LayerGroups[list[tuple[_Request, dict[str, torch.Tensor]]]]
        groups = LayerGroups(model.cfg.n_layers, largest=8 if self.layer_hook is not None else 1)

        def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
            if all(r.cancelled for r in batch):
                raise Cancelled("every run of the batch was cancelled")
            rows = [
                (r, {n: self._cut(n, t, ctx.row_of(n, i), lengths[i]) for n, t in tensors.items() if r.wants(n)})
                for i, r in enumerate(batch)
                if r.on_layer is not None and not r.cancelled
            ]
            group = groups.add(layer, rows)
            if group and self.layer_hook is not None:
                self.layer_hook([(lay, [(r.tag, mine) for r, mine in got]) for lay, got in group])
            for lay, got in group:
                for r, mine in got:
                    if r.on_layer is not None and not r.cancelled:
                        r.on_layer(lay, mine)

        ctx = RunPlan(capture, stream, bound).context(model, Where(0, width, len(batch)), on_layer)
        ctx.drop = lambda: {i for i, r in enumerate(batch) if r.cancelled}  # cancelled rows stop at the next layer
        last = all(r.last_logits for r in batch) and "logits" not in capture and "logits" not in stream
        ends = sorted({n - 1 for n in lengths}) if last else []
        with torch.no_grad():
            logits = model.forward(ctx, tokens, mask, keep=torch.tensor(ends) if last else None).float()
        self.batches_run += 1
        results: list[RunResult | None] = []
        own = len(batch) > 1  # copies: a row's result must not keep the whole batch's logits and captures alive
        for i, r in enumerate(batch):
            if i not in ctx.rows:  # dropped: cancelled
                results.append(None)
                continue
            n, at = lengths[i], ctx.rows.index(i)
            ids = tokens[i : i + 1, :n]
            str_tokens = [model.decode_each(ids[0].tolist())] if model.tokenizer is not None else []
            cache = {name: _own(self._cut(name, ctx.cache[name], ctx.row_of(name, i), n), own) for name in r.capture}
            first = ends.index(n - 1) if last else n - 1 if r.last_logits else 0
            pos = slice(first, first + 1 if r.last_logits else n)
            row_logits = _own(logits[at : at + 1, pos], own)
            results.append(RunResult(ids, mask[i : i + 1, :n], row_logits, str_tokens, cache))
        return results

    def _cut(self, name: str, t: torch.Tensor, row: int, length: int) -> torch.Tensor:
        """Row `row` of a batched activation, trimmed to that row's own `length` on every position axis."""
        index: list[slice] = [slice(row, row + 1)]
        index += [slice(0, length) if s in POS_SYMBOLS else slice(None) for s in self.model.points[name].shape[1:]]
        return t[tuple(index)]


def _own(t: torch.Tensor, copy: bool) -> torch.Tensor:
    return t.clone() if copy else t


def _for_row(b: Bound, row: int, length: int) -> Bound:
    """`b` limited to batch row `row`, with negative positions made absolute for a `length`-token prompt."""
    positions = None if b.iv.positions is None else tuple(p if p >= 0 else length + p for p in b.iv.positions)
    iv = dataclasses.replace(b.iv, rows=(row,), positions=positions)
    return dataclasses.replace(b, iv=iv, length=length)
