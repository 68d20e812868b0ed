"""`run`: one forward pass with capture, interventions and a per-layer callback."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from loupe.engine.result import RunResult
from loupe.errors import LoupeError
from loupe.features.acts import FeatureActs
from loupe.hooks.apply import Bound, Where, bind
from loupe.hooks.context import LayerCallback, RunContext
from loupe.hooks.interventions import Intervention, parse_interventions

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel, Inputs
    from loupe.features.sae import SAE

InterventionsIn = Sequence[Intervention | Mapping[str, Any]] | None


def run(
    model: HookedModel,
    inputs: Inputs,
    capture: Sequence[str] | str = (),
    interventions: InterventionsIn = None,
    on_layer: LayerCallback | None = None,
    sources: Mapping[str, Any] | None = None,
    vectors: Mapping[str, Any] | None = None,
    cancel: threading.Event | None = None,
    padding_side: str = "right",
    grad: bool = False,
    stream: Sequence[str] | str = (),
    features: Sequence[SAE | str] = (),
    feature_k: int = 16,
) -> RunResult:
    """Run `inputs` (text, texts or token ids), capturing `capture` (names or globs) with `interventions`.

    `stream` names points that only `on_layer` receives: they are not kept in the result's cache.
    `features` (SAEs or ids of attached ones) adds `result.features[id]`: the encoding of the activation at
    each SAE's hook (after that hook's interventions), with `feature_k` top features per token. The run's
    output does not change: nothing is written back.
    """
    tokens, mask = model.encode(inputs, padding_side)
    names = model.match_hooks(capture) if capture else []
    streamed = model.match_hooks(stream) if stream else []
    saes = [model.sae(f) for f in features]
    if saes and feature_k < 1:
        raise LoupeError("bad_input", f"feature_k must be at least 1, got {feature_k}")
    extra = sorted({s.hook for s in saes} - set(names))  # captured for the encoders only
    bound = bind_all(model, interventions, sources, vectors, seq_len=tokens.shape[1])
    where = Where(0, tokens.shape[1], tokens.shape[0])
    if extra and on_layer is not None:
        user_on_layer = on_layer

        def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
            user_on_layer(layer, {n: t for n, t in tensors.items() if n not in extra})

    ctx = RunContext(model.points, names + extra, bound, where, on_layer, cancel, grad, streamed)
    with torch.set_grad_enabled(grad):
        logits = model.forward(ctx, tokens, mask)
    str_tokens = [model.decode_each(row.tolist()) for row in tokens] if model.tokenizer is not None else []
    with torch.no_grad():
        acts = {s.id: FeatureActs(s.id, s.hook, s.encode(ctx.cache[s.hook]), feature_k) for s in saes}
    for name in extra:
        del ctx.cache[name]
    return RunResult(tokens, mask, logits.float(), str_tokens, ctx.cache, acts)


def bind_all(
    model: HookedModel,
    interventions: InterventionsIn,
    sources: Mapping[str, Any] | None,
    vectors: Mapping[str, Any] | None,
    seq_len: int,
) -> list[Bound]:
    """Parse, check and resolve the enabled interventions for a prompt of `seq_len` tokens."""
    resolver = _Resolver(model, sources or {}, vectors or {})
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


class _Resolver:
    """Turns intervention references (run ids, vector ids, lists) into tensors."""

    def __init__(self, model: HookedModel, sources: Mapping[str, Any], vectors: Mapping[str, Any]) -> None:
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
            ref = run(self.model, ref, capture=[hook])
        if isinstance(ref, RunResult):
            if hook not in ref.cache:  # capture it now and remember it with the saved run
                again = run(self.model, ref.tokens, capture=[hook])
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
