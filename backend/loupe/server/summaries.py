"""Per-layer summaries that keep the default view's bytes linear in prompt length.

resid_norm: L2 norm of the residual stream per position; lens: the logit lens (final norm and
unembedding applied to the residual) as top-1 per position and top-5 at the last position;
attn: every head's pattern max-pooled to at most THUMB x THUMB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

THUMB = 64
PARTS = ("resid_norm", "lens", "attn")


def needed_hooks(layers: int, parts: tuple[str, ...]) -> list[str]:
    """The hook points a run must capture to compute `parts` for every layer."""
    names = []
    for layer in range(layers):
        if "resid_norm" in parts or "lens" in parts:
            names.append(f"blocks.{layer}.hook_resid_post")
        if "attn" in parts:
            names.append(f"blocks.{layer}.attn.hook_pattern")
    return names


def resid_norm(resid: torch.Tensor) -> torch.Tensor:
    """[pos, d_model] -> [pos]."""
    return resid.float().norm(dim=-1)


def thumbnails(pattern: torch.Tensor, size: int = THUMB) -> torch.Tensor:
    """[head, q, k] -> [head, P, P] with P = min(pos, size); bin i spans floor(i*T/P)..ceil((i+1)*T/P)-1."""
    p = min(pattern.shape[-1], size)
    if p == pattern.shape[-1]:
        return pattern
    return F.adaptive_max_pool2d(pattern.float(), (p, p))


class LogitLens:
    """Applies the model's final norm and unembedding to residuals, bypassing their forward hooks."""

    def __init__(self, model: HookedModel) -> None:
        self.model = model
        self.norm: nn.Module = model.adapter.module(model.hf, "final_norm")
        self.unembed: nn.Module = model.hf.get_output_embeddings()
        self.dtype = next(self.unembed.parameters()).dtype

    def __call__(self, resid: torch.Tensor) -> dict[str, Any]:
        """[pos, d_model] -> top-1 id/prob/string per position and top-5 at the last position."""
        with torch.no_grad():
            # .forward, not __call__: the engine's capture hooks on these modules must not fire
            logits = self.unembed.forward(self.norm.forward(resid.to(self.dtype)))
            probs = torch.softmax(logits.float(), dim=-1)
            top1_p, top1 = probs.max(dim=-1)
            top5 = probs[-1].topk(min(5, probs.shape[-1]))
        ids = top1.tolist()
        top5_ids = top5.indices.tolist()
        return {
            "top1": top1.to(torch.int32),
            "prob": top1_p,
            "top1_str": self.model.decode_each(ids),
            "top5": top5.indices.to(torch.int32),
            "top5_prob": top5.values,
            "top5_str": self.model.decode_each(top5_ids),
        }


def layer_summary(
    lens: LogitLens | None, parts: tuple[str, ...], tensors: dict[str, torch.Tensor], layer: int
) -> dict[str, Any]:
    """The `summary` map of one run.layer frame, from row 0 of that layer's captured tensors."""
    out: dict[str, Any] = {}
    resid = tensors.get(f"blocks.{layer}.hook_resid_post")
    if resid is not None and "resid_norm" in parts:
        out["resid_norm"] = resid_norm(resid[0])
    if resid is not None and lens is not None:
        out["lens"] = lens(resid[0])
    pattern = tensors.get(f"blocks.{layer}.attn.hook_pattern")
    if pattern is not None and "attn" in parts:
        out["attn"] = thumbnails(pattern[0])
    return out
