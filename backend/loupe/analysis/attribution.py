"""Direct logit attribution: what each head, MLP and the embeddings write towards an answer's logit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from loupe.analysis.record import Record
from loupe.analysis.weights import (
    attn_weights,
    is_layernorm,
    norm_gain,
    norm_scale,
    single_prompt,
    token_id,
    unembed,
)

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.engine.view import ModelView


@dataclass
class LogitAttribution(Record):
    """Direct contributions to `metric` (the answer's logit, or answer - wrong); they sum to `total`."""

    heads: torch.Tensor  # [n_layers, n_heads]
    mlps: torch.Tensor  # [n_layers]
    attn_bias: torch.Tensor  # [n_layers]: each attention output projection's bias
    embed: float  # token (+ position) embeddings
    bias: float  # final-norm bias and unembedding bias (zero for Llama-family models)
    total: float  # sum of everything above
    actual: float  # the real logit (difference) of the run; equals `total` up to float error
    answer: int
    wrong: int | None
    position: int

    def top(self, n: int = 10) -> list[tuple[str, float]]:
        """The `n` components with the largest absolute contribution, as ("L23H3" | "L5 MLP", value)."""
        items = [(f"L{lay}H{h}", float(v)) for (lay, h), v in _indexed(self.heads)]
        items += [(f"L{lay} MLP", float(v)) for lay, v in enumerate(self.mlps)]
        items.append(("embed", self.embed))
        return sorted(items, key=lambda kv: -abs(kv[1]))[:n]


def _indexed(t: torch.Tensor) -> list[tuple[tuple[int, int], torch.Tensor]]:
    return [((i, j), t[i, j]) for i in range(t.shape[0]) for j in range(t.shape[1])]


def direct_logit_attribution(
    model: ModelView,
    inputs: Inputs,
    answer: int | str,
    wrong: int | str | None = None,
    position: int = -1,
) -> LogitAttribution:
    """Split the logit of `answer` (minus `wrong`'s) at `position` into per-component direct effects.

    The residual stream at the end is a sum of components (embeddings, each head's `z @ W_O[head]`, each
    attention bias, each MLP output). The final norm is made linear by freezing its scale at the value
    it had in this run (the standard "freeze the LayerNorm scale" approximation): each component c
    contributes `(P(c) / scale * gain) @ (W_U[:, answer] - W_U[:, wrong])`, where P centres c for
    LayerNorm and is the identity for RMSNorm. With the scale frozen the decomposition is exact, so the
    contributions plus `bias` equal the run's logit difference; what it leaves out are indirect effects
    (a head's output changing later heads and MLPs).
    """
    cfg = model.cfg
    tokens = single_prompt(model, inputs)
    pos = position if position >= 0 else tokens.shape[1] + position
    a = token_id(model, answer)
    w = token_id(model, wrong) if wrong is not None else None
    last = f"blocks.{cfg.n_layers - 1}.hook_resid_post"
    capture = ["hook_embed", "blocks.*.attn.hook_z", "blocks.*.hook_mlp_out", last]
    if "hook_pos_embed" in model.points:
        capture.append("hook_pos_embed")
    res = model.run(tokens, capture=capture)
    cache = {k: v[0, pos].float() for k, v in res.cache.items()}

    W_U, b_U = unembed(model)
    direction = W_U[:, a] - (W_U[:, w] if w is not None else 0.0)
    norm = model.adapter.module(model.hf, "final_norm")
    centre = is_layernorm(norm)
    read = direction * norm_gain(norm, cfg.d_model).to(direction) / norm_scale(norm, cache[last])

    def project(c: torch.Tensor) -> torch.Tensor:
        if centre:
            c = c - c.mean(-1, keepdim=True)
        return c @ read

    heads = torch.zeros(cfg.n_layers, cfg.n_heads)
    mlps = torch.zeros(cfg.n_layers)
    attn_bias = torch.zeros(cfg.n_layers)
    for layer in range(cfg.n_layers):
        wts = attn_weights(model, layer)
        z = cache[f"blocks.{layer}.attn.hook_z"]  # [head, d_head]
        heads[layer] = project(torch.einsum("hd,hdm->hm", z, wts.W_O)).cpu()
        attn_bias[layer] = float(project(wts.b_O))
        mlps[layer] = float(project(cache[f"blocks.{layer}.hook_mlp_out"]))
    embed = cache["hook_embed"] + cache.get("hook_pos_embed", 0.0)
    beta = getattr(norm, "bias", None)
    bias = float(beta.detach().float() @ direction) if beta is not None else 0.0
    bias += float(b_U[a] - (b_U[w] if w is not None else 0.0))
    embed_c = float(project(embed))
    total = float(heads.sum() + mlps.sum() + attn_bias.sum()) + embed_c + bias
    actual = res.logits[0, pos, a] - (res.logits[0, pos, w] if w is not None else 0.0)
    return LogitAttribution(heads, mlps, attn_bias, embed_c, bias, total, float(actual), a, w, pos)
