"""The per-forward state that hooks read: what to capture, what to change, where results go."""

from __future__ import annotations

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
        return x

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
