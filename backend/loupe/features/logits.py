"""What a feature's decoder direction does to next-token logits, through the model's unembedding.

A feature's logit effect is its decoder direction times the final norm's gain, through the unembedding:
TransformerLens's logit weights with the norm folded in, without the norm's input-dependent scaling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.features.sae import SAE


def readout(model: HookedModel) -> torch.Tensor:
    """The unembedding with the final norm's gain folded in: [d_vocab, d_model], float32."""
    head = model.hf.get_output_embeddings()
    assert head is not None
    w_u = head.weight.detach().float()
    gain = getattr(model.adapter.module(model.hf, "final_norm"), "weight", None)
    return w_u * gain.detach().float() if isinstance(gain, torch.Tensor) else w_u


def feature_logits(model: HookedModel, sae: SAE, index: int) -> torch.Tensor:
    """[d_vocab]: how one unit of feature `index` changes each token's logit."""
    return readout(model) @ sae.directions()[index].to(model.device)


def token_scores(model: HookedModel, sae: SAE, token: int) -> torch.Tensor:
    """[d_sae]: how much one unit of each feature raises the logit of `token`."""
    return sae.directions() @ readout(model)[token].to(sae.device)


def top_tokens(model: HookedModel, logits: torch.Tensor, k: int = 10) -> tuple[list[dict], list[dict]]:
    """The `k` most promoted and most suppressed tokens of a [d_vocab] logit effect, as [{token, logit}]."""
    out = []
    for sign in (1.0, -1.0):
        top = (sign * logits).topk(k)
        strs = model.decode_each(top.indices.tolist())
        out.append([{"token": s, "logit": sign * float(v)} for s, v in zip(strs, top.values.tolist(), strict=True)])
    return out[0], out[1]
