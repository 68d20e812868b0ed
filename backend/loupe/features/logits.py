"""What a feature's decoder direction does to next-token logits, through the model's unembedding.

A feature's logit effect is its decoder direction times the final norm's gain, through the unembedding:
TransformerLens's logit weights with the norm folded in, without the norm's input-dependent scaling.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.features.sae import SAE

_READOUTS: weakref.WeakKeyDictionary[HookedModel, torch.Tensor] = weakref.WeakKeyDictionary()


def readout(model: HookedModel) -> torch.Tensor:
    """The unembedding with the final norm's gain folded in: [d_vocab, d_model], float32 (computed once per model)."""
    cached = _READOUTS.get(model)
    if cached is not None:
        return cached
    head = model.hf.get_output_embeddings()
    assert head is not None
    w_u = head.weight.detach().float()
    gain = getattr(model.adapter.module(model.hf, "final_norm"), "weight", None)
    out: torch.Tensor = w_u * gain.detach().float() if isinstance(gain, torch.Tensor) else w_u.clone()
    _READOUTS[model] = out
    return out


def token_scores(model: HookedModel, sae: SAE, token: int) -> torch.Tensor:
    """[d_sae]: how much one unit of each feature raises the logit of `token`."""
    return sae.directions() @ readout(model)[token].to(sae.device)


def top_logits(
    model: HookedModel, sae: SAE, indices: Sequence[int] | None = None, k: int = 10, chunk: int = 256
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids [n, 2, k] int32 and logit effects [n, 2, k] float32 of features `indices` (default all): row 0
    the k most promoted tokens (descending), row 1 the k most suppressed (most negative first)."""
    rows = list(range(sae.d_sae)) if indices is None else list(indices)
    w, directions = readout(model), sae.directions()
    ids, values = [], []
    with torch.no_grad():
        for start in range(0, len(rows), chunk):
            d = directions[rows[start : start + chunk]].to(device=w.device, dtype=w.dtype)
            effect = (w @ d.T).T  # [c, d_vocab]
            up, down = effect.topk(k, dim=1), effect.neg().topk(k, dim=1)
            ids.append(torch.stack([up.indices, down.indices], 1).int().cpu())
            values.append(torch.stack([up.values, down.values.neg()], 1).float().cpu())
    if not rows:
        return torch.zeros(0, 2, k, dtype=torch.int32), torch.zeros(0, 2, k)
    return torch.cat(ids), torch.cat(values)


def token_rows(model: HookedModel, ids: torch.Tensor, values: torch.Tensor) -> list[dict[str, Any]]:
    """[{token, logit}] for token ids [k] and their logit effects [k]."""
    strs = model.decode_each(ids.tolist())
    return [{"token": s, "logit": float(v)} for s, v in zip(strs, values.tolist(), strict=True)]
