"""What one forward pass does, decided before it runs: the points it captures, those it only streams to
`on_layer`, and its interventions, parsed, checked and bound to tensors (`plan`); `RunPlan.context` makes
the `RunContext` the hooks read. Every way of running the model (run, generate, the scheduler, pieces,
patching) starts here."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from loupe.engine.result import RunResult
from loupe.errors import LoupeError
from loupe.hooks.apply import Bound, Where, bind
from loupe.hooks.context import LayerCallback, RunContext
from loupe.hooks.interventions import Intervention, parse_interventions

if TYPE_CHECKING:
    from loupe.engine.view import ModelView
    from loupe.features.sae import SAE

InterventionsIn = Sequence[Intervention | Mapping[str, Any]] | None


@dataclass(frozen=True)
class PassParts:
    """What a model's `run` adds to every forward pass, for code that runs passes below `run` (`model.forward`
    on a KV cache, as patch sweeps do): the bare model, extra interventions with their sources and vectors, and
    the cancel flag. A wrapper of a HookedModel (the server's session model) offers them as `pass_parts()`."""

    model: ModelView
    interventions: Sequence[Intervention | Mapping[str, Any]] = ()
    sources: Mapping[str, Any] | None = None
    vectors: Mapping[str, Any] | None = None
    cancel: threading.Event | None = None


def pass_parts(model: Any) -> PassParts | None:
    """`model`'s PassParts: a bare HookedModel adds nothing; a wrapper says with `pass_parts()`, else None."""
    parts = getattr(type(model), "pass_parts", None)
    return parts(model) if callable(parts) else None


@dataclass
class RunPlan:
    """Hook names a pass captures (kept in its cache), streams (to `on_layer` only) and its bound interventions."""

    capture: list[str]
    stream: list[str]
    bound: list[Bound]

    def context(
        self,
        model: ModelView,
        where: Where,
        on_layer: LayerCallback | None = None,
        cancel: threading.Event | None = None,
        grad: bool = False,
    ) -> RunContext:
        """The `RunContext` of a pass over the positions and batch rows `where` describes."""
        return RunContext(model.points, self.capture, self.bound, where, on_layer, cancel, grad, self.stream)


def plan(
    model: ModelView,
    seq_len: int,
    capture: Sequence[str] | str = (),
    interventions: InterventionsIn = None,
    sources: Mapping[str, Any] | None = None,
    vectors: Mapping[str, Any] | None = None,
    stream: Sequence[str] | str = (),
) -> RunPlan:
    """Match `capture` and `stream` (names or globs) and bind `interventions` for a `seq_len`-token prompt;
    raises LoupeError naming the first bad hook or intervention."""
    names = model.match_hooks(capture) if capture else []
    streamed = [n for n in (model.match_hooks(stream) if stream else []) if n not in names]
    return RunPlan(names, streamed, bind_all(model, interventions, sources, vectors, seq_len))


def bind_all(
    model: ModelView,
    interventions: InterventionsIn,
    sources: Mapping[str, Any] | None,
    vectors: Mapping[str, Any] | None,
    seq_len: int,
) -> list[Bound]:
    """Parse, check and resolve the enabled interventions for a prompt of `seq_len` tokens."""
    resolver = RefResolver(model, sources or {}, vectors or {})
    bound = []
    for iv in parse_interventions(interventions):
        if not iv.enabled:
            continue
        for p in iv.positions or ():
            if not -seq_len <= p < seq_len:
                raise LoupeError(
                    "bad_intervention", f"position {p} is out of range for a {seq_len}-token prompt ({iv.hook})"
                )
        bound.append(bind(iv, model.points, model.cfg, resolver, seq_len))
    return bound


class RefResolver:
    """Turns intervention references (run ids, vector ids, lists) into tensors."""

    def __init__(self, model: ModelView, sources: Mapping[str, Any], vectors: Mapping[str, Any]) -> None:
        self.model, self.sources, self.vectors = model, sources, vectors

    def __call__(self, kind: str, ref: object, hook: str) -> torch.Tensor:
        if isinstance(ref, torch.Tensor):
            return ref.to(self.model.device)
        if kind == "vector":
            return self._vector(ref)
        if isinstance(ref, str):
            if ref not in self.sources:
                known = sorted(self.sources) or "none saved"
                raise LoupeError("bad_intervention", f"unknown source run {ref!r}; saved runs: {known}")
            ref = self.sources[ref]
        if isinstance(ref, str):  # a saved prompt
            ref = self.model.run(ref, capture=[hook])
        if isinstance(ref, RunResult):
            if hook not in ref.cache:  # capture it now and remember it with the saved run
                again = self.model.run(ref.tokens, capture=[hook])
                ref.cache[hook] = again.cache[hook]
            return ref.cache[hook]
        raise LoupeError("bad_intervention", f"a patch source must be a run id, a RunResult or a tensor, got {ref!r}")

    def sae(self, ref: object) -> SAE:
        if not isinstance(ref, str) and not hasattr(ref, "encode"):
            raise LoupeError("bad_intervention", f"'sae' must be an SAE id or an SAE, got {ref!r}")
        return self.model.sae(ref)  # type: ignore[arg-type]

    def _vector(self, ref: object) -> torch.Tensor:
        if isinstance(ref, str):
            if ref not in self.vectors:
                known = sorted(self.vectors) or "none saved"
                raise LoupeError("bad_intervention", f"unknown vector {ref!r}; saved vectors: {known}")
            ref = self.vectors[ref]
            if isinstance(ref, torch.Tensor):
                return ref.to(self.model.device)
        try:
            arr = np.asarray(ref, dtype=np.float32)
        except (TypeError, ValueError):
            raise LoupeError(
                "bad_intervention", f"a vector must be a list of numbers or a tensor, got {ref!r}"
            ) from None
        if arr.ndim != 1 or not np.isfinite(arr).all():
            raise LoupeError("bad_intervention", "a vector must be one-dimensional and finite")
        return torch.from_numpy(arr).to(self.model.device)
