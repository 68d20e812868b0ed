"""The probe attention function: computes scores, pattern and z explicitly where a run asks for them.

Registered with transformers' AttentionInterface as "loupe"; layers whose attention points are not
needed fall through to PyTorch's fused scaled-dot-product attention, so they cost nothing extra.
"""

from __future__ import annotations

import functools
from typing import Any

import torch
from torch import nn
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from loupe.hooks.context import RunContext

IMPLEMENTATION = "loupe"


class Slot:
    """Holds the context of the forward pass in flight; shared by the attention modules of one model."""

    def __init__(self) -> None:
        self.ctx: RunContext | None = None


def attach(module: nn.Module, slot: Slot, layer: int) -> None:
    module._loupe_slot = slot  # type: ignore[assignment]
    module._loupe_layer = layer  # type: ignore[assignment]


def loupe_attention(
    module: nn.Module,
    query: torch.Tensor,  # [batch, head, q_pos, d_head], after rotary
    key: torch.Tensor,  # [batch, kv_head, k_pos, d_head], whole context when cached
    value: torch.Tensor,  # [batch, kv_head, k_pos, d_head]
    attention_mask: torch.Tensor | None,  # bool [batch, 1, q_pos, k_pos] (True = attend) or None = causal
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    slot: Slot | None = getattr(module, "_loupe_slot", None)
    ctx = slot.ctx if slot is not None else None
    layer: int = getattr(module, "_loupe_layer", -1)
    wanted = ctx.attention_points(layer) if ctx is not None else frozenset()
    if ctx is None or not wanted:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
    p = f"blocks.{layer}.attn."
    if wanted == {"attn.hook_z"}:  # z is what the fused kernel returns: no need for the pattern
        z, _ = sdpa_attention_forward(module, query, key, value, attention_mask, dropout, scaling, **kwargs)
        return ctx.process(p + "hook_z", z), None
    if "attn.hook_rot_q" in wanted:
        query = _process_heads_last(ctx, p + "hook_rot_q", query)
    if "attn.hook_rot_k" in wanted:
        key = _process_heads_last(ctx, p + "hook_rot_k", key)
    b, h, t, d = query.shape
    kvh, s = key.shape[1], key.shape[2]
    scale = scaling if scaling is not None else d**-0.5
    # Grouped-query attention by folding the query groups into the position axis: no K/V copies.
    # Scaling the queries (t x d) rather than the scores (t x s) saves a pass over the larger tensor.
    # bmm on 3-d views, not matmul on 4-d ones: matmul adds an expand and a view per operand, and on a GPU
    # (where a 64-token run is launch-bound) every op of a layer counts.
    folded = (query * scale).reshape(b * kvh, (h // kvh) * t, d)
    scores = torch.bmm(folded, key.reshape(b * kvh, s, d).transpose(1, 2)).view(b, h, t, s)
    scores.masked_fill_(_blocked(attention_mask, t, s, query.device), torch.finfo(scores.dtype).min)
    if "attn.hook_attn_scores" in wanted:
        scores = ctx.process(p + "hook_attn_scores", scores)
    pattern = torch.softmax(scores, dim=-1, dtype=torch.float32).to(value.dtype)
    if "attn.hook_pattern" in wanted:
        pattern = ctx.process(p + "hook_pattern", pattern)
    z = torch.bmm(pattern.reshape(b * kvh, (h // kvh) * t, s), value.reshape(b * kvh, s, d))
    z = z.view(b, h, t, d).transpose(1, 2)
    if "attn.hook_z" in wanted:
        z = ctx.process(p + "hook_z", z)
    return z, pattern


def _process_heads_last(ctx: RunContext, name: str, x: torch.Tensor) -> torch.Tensor:
    """Run point `name` ([batch, pos, head, d_head], as hooked) on `x` [batch, head, pos, d_head]."""
    seen = x.transpose(1, 2)
    new = ctx.process(name, seen)
    return x if new is seen else new.transpose(1, 2)


def _blocked(mask: torch.Tensor | None, t: int, s: int, device: torch.device) -> torch.Tensor:
    """True where a query may not attend to a key, broadcastable to [batch, head, t, s]."""
    if mask is None:
        return _causal_blocked(t, s, device)
    return ~mask if mask.dtype == torch.bool else mask != 0


@functools.lru_cache(maxsize=16)
def _causal_blocked(t: int, s: int, device: torch.device) -> torch.Tensor:
    """Causal with `s - t` cached positions before the queries; made once per shape, not once per layer (never
    written to: `masked_fill_` only reads it). A normal tensor even when first made in inference mode, so a
    later run with gradients may save it for backward."""
    with torch.inference_mode(False):
        q = torch.arange(t, device=device).unsqueeze(1) + (s - t)
        return torch.arange(s, device=device).unsqueeze(0) > q


def register() -> None:
    """Make "loupe" available as an attention implementation (idempotent)."""
    AttentionInterface.register(IMPLEMENTATION, loupe_attention)
    AttentionMaskInterface.register(IMPLEMENTATION, sdpa_mask)
