"""Steering vectors: contrast-prompt mean differences, token embedding directions, MLP neuron outputs.

Every function returns a plain [d_model] float32 tensor for `{"op": "steer", "hook": ..., "vector": v}`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import torch
from typing_extensions import TypedDict, Unpack

from loupe.analysis.weights import embed_weight, mlp_out_weight, token_id
from loupe.engine.pieces import prompt_activations
from loupe.errors import LoupeError

if TYPE_CHECKING:
    from loupe.engine.view import ModelView


Reduce = Literal["last", "mean"]


class Pieces(TypedDict, total=False):
    """Where and how contrast prompts are read: `hook` (default `blocks.{layer}.hook_resid_post`), forward passes
    of at most `piece_tokens` tokens (default: the whole prompt) sharing a KV cache, and a `cancel` flag."""

    hook: str | None
    piece_tokens: int | None
    cancel: threading.Event | None


def mean_resid(
    model: ModelView, prompts: Sequence[str], layer: int, reduce: Reduce = "last", **pieces: Unpack[Pieces]
) -> torch.Tensor:
    """The mean over prompts of the residual after block `layer` (or `hook`), float32, taken at each prompt's last
    token (reduce="last") or averaged over its tokens (reduce="mean").

    Each prompt runs alone (no padding), in pieces (see `Pieces`), so that a server can let other sessions' runs go
    between them.
    """
    if not prompts or isinstance(prompts, str):
        raise LoupeError("bad_input", "steering needs a non-empty list of prompts")
    if reduce not in ("mean", "last"):
        raise LoupeError("bad_input", f"reduce must be 'mean' or 'last', got {reduce!r}")
    if not 0 <= layer < model.cfg.n_layers:
        raise LoupeError("bad_input", f"layer {layer} out of range 0..{model.cfg.n_layers - 1}")
    name = pieces.get("hook") or f"blocks.{layer}.hook_resid_post"
    piece = pieces.get("piece_tokens") or model.cfg.n_ctx
    acts = prompt_activations(model, prompts, name, reduce, piece, pieces.get("cancel"))
    return acts.reshape(acts.shape[0], -1).mean(0)


def steering_vector(
    model: ModelView,
    positive: Sequence[str],
    negative: Sequence[str],
    layer: int,
    reduce: Reduce = "last",
    **pieces: Unpack[Pieces],
) -> torch.Tensor:
    """mean(positive) - mean(negative) of the residual after block `layer` (or of `hook`); steer at the same hook.

    Each prompt contributes its last token by default (as `vectors.from_prompts` does); reduce="mean" averages
    each prompt over its tokens instead, so prompts of different lengths weigh the same. See `mean_resid`.
    """
    means = [mean_resid(model, side, layer, reduce, **pieces) for side in (positive, negative)]
    return (means[0] - means[1]).cpu()


def embedding_vector(model: ModelView, token: int | str, normalize: bool = True) -> torch.Tensor:
    """The token's embedding row W_E[token] (unit length if `normalize`): steer "towards" a token."""
    v = embed_weight(model)[token_id(model, token)].clone().cpu()
    return v / v.norm() if normalize else v


def neuron_vector(model: ModelView, layer: int, index: int, normalize: bool = False) -> torch.Tensor:
    """What MLP neuron `index` of `layer` writes to the residual stream per unit of activation: W_out[index]."""
    if not 0 <= layer < model.cfg.n_layers or not 0 <= index < model.cfg.d_mlp:
        raise LoupeError("bad_input", f"neuron {layer}.{index} out of range ({model.cfg.n_layers} x {model.cfg.d_mlp})")
    v = mlp_out_weight(model, layer)[index].clone().cpu()
    return v / v.norm() if normalize else v
