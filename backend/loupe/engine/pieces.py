"""Long jobs in pieces: each forward pass is one prompt's chunk of at most `piece_tokens` tokens.

The chunks of a prompt share a KV cache, so the activations are those of the whole prompt (up to
floating-point rounding), while every forward pass is one short turn of the model (see turns.py):
other sessions' runs interleave with the pieces instead of waiting for the whole job. A pass stops after
the hook's layer (the layers above cannot change it, and no later piece needs their KV cache), so a piece
for a vector at layer 15 of 30 holds the model about half as long.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import torch
from transformers import DynamicCache

from loupe.engine.plan import plan
from loupe.errors import LoupeError
from loupe.hooks.apply import Where
from loupe.hooks.context import LayerCallback

if TYPE_CHECKING:
    from loupe.engine.view import ModelView


def prompt_activations(
    model: ModelView,
    prompts: Sequence[str],
    hook: str,
    reduce: Literal["last", "mean"],
    piece_tokens: int,
    cancel: threading.Event | None = None,
) -> torch.Tensor:
    """`hook`'s activation per prompt at its last token ("last") or averaged over its tokens ("mean"),
    float32 [len(prompts), *point dims without batch and pos], computed in pieces of `piece_tokens` tokens."""
    point = model.points[hook]
    if point.pos_dim != 1:
        raise LoupeError("bad_message", f"{hook}: expected a point with positions on its second axis")
    rows = []
    for prompt in prompts:
        tokens, _ = model.encode(prompt)
        rows.append(_one(model, tokens, hook, reduce, max(1, piece_tokens), cancel))
    return torch.stack(rows)


def _one(
    model: ModelView,
    tokens: torch.Tensor,
    hook: str,
    reduce: str,
    piece: int,
    cancel: threading.Event | None,
) -> torch.Tensor:
    n = tokens.shape[1]
    ctx = plan(model, n, [hook]).context(model, Where(0, n, 1), _stop_after(model.points[hook].layer), cancel)
    past = DynamicCache()
    total: torch.Tensor | None = None
    last = torch.empty(0)
    with torch.no_grad():
        for start in range(0, n, piece):
            ctx.check_cancel()
            end = min(n, start + piece)
            ctx.cache, ctx.where = {}, Where(start, n, 1)
            mask = torch.ones(1, end, dtype=torch.long, device=tokens.device)
            positions = torch.arange(start, end, device=tokens.device).unsqueeze(0)
            with contextlib.suppress(_Enough):
                model.forward(ctx, tokens[:, start:end], mask, positions, past)
            act = ctx.cache[hook][0].float()  # [chunk, ...]
            total = act.sum(0) if total is None else total + act.sum(0)
            last = act[-1]
    assert total is not None
    return total / n if reduce == "mean" else last


class _Enough(Exception):
    """Ends a pass once the hook's layer has run."""


def _stop_after(layer: int | None) -> LayerCallback | None:
    if layer is None:  # embeddings, final norm, logits: the whole pass
        return None

    def on_layer(done: int, _tensors: dict[str, torch.Tensor]) -> None:
        if done >= layer:
            raise _Enough

    return on_layer
