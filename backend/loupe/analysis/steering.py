"""Steering vectors: contrast-prompt mean differences, token embedding directions, MLP neuron outputs.

Every function returns a plain [d_model] float32 tensor for `{"op": "steer", "hook": ..., "vector": v}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import torch

from loupe.analysis.weights import embed_weight, mlp_out_weight, token_id
from loupe.errors import LoupeError

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


def mean_resid(
    model: HookedModel, prompts: Sequence[str], layer: int, reduce: Literal["mean", "last"] = "mean"
) -> torch.Tensor:
    """The mean over prompts of `blocks.{layer}.hook_resid_post`, averaged over each prompt's real tokens
    (reduce="mean", padding excluded) or taken at its last real token (reduce="last")."""
    if not prompts or isinstance(prompts, str):
        raise LoupeError("bad_input", "steering needs a non-empty list of prompts")
    if reduce not in ("mean", "last"):
        raise LoupeError("bad_input", f"reduce must be 'mean' or 'last', got {reduce!r}")
    if not 0 <= layer < model.cfg.n_layers:
        raise LoupeError("bad_input", f"layer {layer} out of range 0..{model.cfg.n_layers - 1}")
    name = f"blocks.{layer}.hook_resid_post"
    res = model.run(list(prompts), capture=[name])
    resid, mask = res.cache[name].float(), res.attention_mask.float()
    if reduce == "mean":
        per_prompt = (resid * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
    else:
        last = torch.tensor([res.last_position(i) for i in range(len(prompts))], device=resid.device)
        per_prompt = resid[torch.arange(len(prompts), device=resid.device), last]
    return per_prompt.mean(0)


def steering_vector(
    model: HookedModel,
    positive: Sequence[str],
    negative: Sequence[str],
    layer: int,
    reduce: Literal["mean", "last"] = "mean",
) -> torch.Tensor:
    """mean(positive) - mean(negative) of the residual after block `layer`; steer at the same hook.

    Each prompt is averaged over its real (non-padding) tokens by default, so prompts of different
    lengths weigh the same; reduce="last" uses each prompt's last token instead.
    """
    return (mean_resid(model, positive, layer, reduce) - mean_resid(model, negative, layer, reduce)).cpu()


def embedding_vector(model: HookedModel, token: int | str, normalize: bool = True) -> torch.Tensor:
    """The token's embedding row W_E[token] (unit length if `normalize`): steer "towards" a token."""
    v = embed_weight(model)[token_id(model, token)].clone().cpu()
    return v / v.norm() if normalize else v


def neuron_vector(model: HookedModel, layer: int, index: int, normalize: bool = False) -> torch.Tensor:
    """What MLP neuron `index` of `layer` writes to the residual stream per unit of activation: W_out[index]."""
    if not 0 <= layer < model.cfg.n_layers or not 0 <= index < model.cfg.d_mlp:
        raise LoupeError("bad_input", f"neuron {layer}.{index} out of range ({model.cfg.n_layers} x {model.cfg.d_mlp})")
    v = mlp_out_weight(model, layer)[index].clone().cpu()
    return v / v.norm() if normalize else v
