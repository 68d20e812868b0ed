"""The per-forward state that hooks read: what to capture, what to change, where results go."""

from __future__ import annotations

import dataclasses
import threading
from collections import defaultdict
from collections.abc import Callable

import torch

from loupe.errors import Cancelled
from loupe.hooks.apply import Bound, Where
from loupe.hooks.points import ATTENTION_FN_POINTS, HookPoints

LayerCallback = Callable[[int, dict[str, torch.Tensor]], None]


class RunContext:
    """Capture set, bound interventions and per-layer delivery for one forward pass (or one generation)."""

    def __init__(
        self,
        points: HookPoints,
        capture: list[str],
        bound: list[Bound],
        where: Where,
        on_layer: LayerCallback | None = None,
        cancel: threading.Event | None = None,
        keep_grad: bool = False,
        stream: list[str] | None = None,
    ) -> None:
        self.points = points
        self.stream = set(stream or ()) - set(capture)  # handed to on_layer, then dropped
        capture = [*capture, *sorted(self.stream)]
        self.capture = set(capture)
        self.by_hook: dict[str, list[Bound]] = defaultdict(list)
        for b in bound:
            self.by_hook[b.point.name].append(b)
        self.wanted = self.capture | set(self.by_hook)
        self.where = where
        self.on_layer = on_layer
        self.cancel = cancel
        self.keep_grad = keep_grad
        self.cache: dict[str, torch.Tensor] = {}
        self.rows = list(range(where.batch))  # the original batch row of each row still running
        self.cache_rows: dict[str, list[int]] = {}  # `rows` when each cached tensor was captured
        self.drop: Callable[[], set[int]] | None = None  # original rows to stop at the next layer (see `shrink`)
        self.resid_pre: dict[int, torch.Tensor] = {}
        self._layer_names: dict[int | None, list[str]] = defaultdict(list)
        for name in capture:
            layer = points[name].layer
            self._layer_names[0 if name in ("hook_embed", "hook_pos_embed") else layer].append(name)
        self._attn: dict[int, frozenset[str]] = {}
        for name in self.wanted:
            p = points[name]
            if p.layer is not None and p.local in ATTENTION_FN_POINTS:
                self._attn[p.layer] = self._attn.get(p.layer, frozenset()) | {p.local}

    def attention_points(self, layer: int) -> frozenset[str]:
        """Points computed inside layer `layer`'s attention function that this run needs."""
        return self._attn.get(layer, frozenset())

    def process(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """Apply `name`'s interventions in order, then capture the result if asked."""
        for b in self.by_hook.get(name, ()):
            x = b.apply(x, self.where)
        if name in self.capture:
            self.cache[name] = x if self.keep_grad or not x.requires_grad else x.detach()
            self.cache_rows[name] = self.rows
        return x

    def shrink(self) -> torch.Tensor | None:
        """At a layer's start: the rows `drop` names leave the batch. Returns the indices (into the batch so
        far) of the rows that go on, or None when none left; interventions are re-aimed at the new rows."""
        gone = self.drop() if self.drop is not None else set()
        keep = [i for i, r in enumerate(self.rows) if r not in gone]
        if len(keep) == len(self.rows) or not keep:
            return None
        self.rows = [self.rows[i] for i in keep]
        new = {r: i for i, r in enumerate(self.rows)}
        for name, bounds in self.by_hook.items():
            self.by_hook[name] = [
                dataclasses.replace(b, iv=dataclasses.replace(b.iv, rows=tuple(new[r] for r in b.iv.rows if r in new)))
                if b.iv.rows is not None
                else b
                for b in bounds
                if b.iv.rows is None or any(r in new for r in b.iv.rows)
            ]
        self.where = dataclasses.replace(self.where, batch=len(self.rows))
        return torch.tensor(keep)

    def row_of(self, name: str, row: int) -> int:
        """Where original batch row `row` is in the cached tensor `name`."""
        return self.cache_rows[name].index(row)

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise Cancelled("cancelled")

    def layer_done(self, layer: int) -> None:
        names = [n for n in self._layer_names.get(layer, ()) if n in self.cache]
        if self.on_layer is not None:
            self.on_layer(layer, {n: self.cache[n] for n in names})
        for n in names:
            if n in self.stream:
                del self.cache[n]
