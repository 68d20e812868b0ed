"""`run`: one forward pass with capture, interventions and a per-layer callback."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from loupe.engine.plan import InterventionsIn, plan
from loupe.engine.result import FeatureActs, RunResult
from loupe.errors import LoupeError
from loupe.hooks.apply import Where
from loupe.hooks.context import LayerCallback

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel, Inputs
    from loupe.features.sae import SAE


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
    todo = plan(model, tokens.shape[1], capture, interventions, sources, vectors, stream)
    saes = [model.sae(f) for f in features]
    if saes and feature_k < 1:
        raise LoupeError("bad_input", f"feature_k must be at least 1, got {feature_k}")
    extra = sorted({s.hook for s in saes} - set(todo.capture))  # captured for the encoders only
    todo.capture += extra
    if extra and on_layer is not None:
        user_on_layer = on_layer

        def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
            user_on_layer(layer, {n: t for n, t in tensors.items() if n not in extra})

    ctx = todo.context(model, Where(0, tokens.shape[1], tokens.shape[0]), on_layer, cancel, grad)
    with torch.set_grad_enabled(grad):
        logits = model.forward(ctx, tokens, mask)
    str_tokens = [model.decode_each(row.tolist()) for row in tokens] if model.tokenizer is not None else []
    with torch.no_grad():
        acts = {s.id: FeatureActs(s.id, s.hook, s.encode(ctx.cache[s.hook]), feature_k) for s in saes}
    for name in extra:
        del ctx.cache[name]
    return RunResult(tokens, mask, logits.float(), str_tokens, ctx.cache, acts)
