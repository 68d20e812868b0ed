"""Per-layer summaries that keep the default view's bytes linear in prompt length.

resid_norm: L2 norm of the residual stream per position; lens: the logit lens (final norm and
unembedding applied to the residual) as top-1 per position and top-5 at the last position;
attn: every head's pattern max-pooled to at most THUMB x THUMB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
    """Applies the model's final norm and unembedding to residuals, bypassing their forward hooks.

    On a CPU with fast bfloat16 matmuls (checked once, by timing) the vocabulary-wide product runs in
    bfloat16 and the best CANDIDATES tokens per position are re-scored exactly in float32, so top-1 ids
    match the float32 lens and probabilities stay within ~1e-2 of it, at a fraction of the cost.
    """

    CANDIDATES = 8

    def __init__(self, model: HookedModel) -> None:
        self.model = model
        self.norm: nn.Module = model.adapter.module(model.hf, "final_norm")
        self.unembed: nn.Module = model.hf.get_output_embeddings()
        self.weight: torch.Tensor = self.unembed.weight
        self.bias: torch.Tensor | None = getattr(self.unembed, "bias", None)
        self.fast: torch.Tensor | None = None
        self._strings: dict[int, str] = {}  # decoded token strings, at most d_vocab of them
        if self.weight.device.type == "cpu" and self.weight.dtype == torch.float32:
            fast = self.weight.detach().to(torch.bfloat16)
            x = torch.randn(32, self.weight.shape[1])
            if _seconds(lambda: x.to(torch.bfloat16) @ fast.T) < 0.7 * _seconds(lambda: x @ self.weight.T):
                self.fast = fast

    def logits(self, resid: torch.Tensor) -> torch.Tensor:
        """[pos, d_model] -> [pos, d_vocab] float32 lens logits."""
        with torch.no_grad():
            # .forward, not __call__: the engine's capture hooks on these modules must not fire
            x = self.norm.forward(resid.to(self.weight.dtype))
            if self.fast is None:
                return self.unembed.forward(x).float()
            logits = (x.to(torch.bfloat16) @ self.fast.T).float()
            cand = logits.topk(self.CANDIDATES, dim=-1).indices
            exact = torch.einsum("td,tkd->tk", x.float(), self.weight[cand].float())
            if self.bias is not None:
                logits = logits + self.bias.float()
                exact = exact + self.bias.float()[cand]
            return logits.scatter_(1, cand, exact)

    def __call__(self, resid: torch.Tensor) -> dict[str, Any]:
        """[pos, d_model] -> top-1 id/prob/string per position and top-5 at the last position."""
        probs = torch.softmax(self.logits(resid), dim=-1)
        top1_p, top1 = probs.max(dim=-1)
        top5 = probs[-1].topk(min(5, probs.shape[-1]))
        return {
            "top1": top1.to(torch.int32),
            "prob": top1_p,
            "top1_str": self.strings(top1.tolist()),
            "top5": top5.indices.to(torch.int32),
            "top5_prob": top5.values,
            "top5_str": self.strings(top5.indices.tolist()),
        }

    def strings(self, ids: list[int]) -> list[str]:
        missing = [i for i in set(ids) if i not in self._strings]
        self._strings.update(zip(missing, self.model.decode_each(missing), strict=True))
        return [self._strings[i] for i in ids]


def _seconds(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return time.perf_counter() - start


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
