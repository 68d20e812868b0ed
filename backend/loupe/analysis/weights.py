"""Per-head weight matrices in TransformerLens layout, read from any supported architecture.

Shapes (acting on row vectors, `x @ W`): W_Q [n_heads, d_model, d_head], W_K and W_V [n_kv_heads, d_model,
d_head], W_O [n_heads, d_head, d_model], b_O [d_model], W_out [d_mlp, d_model], W_E [d_vocab, d_model],
W_U [d_model, d_vocab]. GPT-2's Conv1D weights are stored [in, out] (transposed relative to nn.Linear);
GPT-NeoX's fused QKV output is interleaved per head ([heads, 3 * d_head]).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from loupe.errors import LoupeError
from loupe.models.adapters import QKVLayout

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.engine.view import ModelView

# Attention output projection inside the attention module, per adapter family.
_OUT_PROJ = {"llama": "o_proj", "gpt2": "c_proj", "gpt_neox": "dense"}


@dataclass(frozen=True)
class AttnWeights:
    """One layer's attention weights; biases are zeros where the model has none."""

    W_Q: torch.Tensor
    W_K: torch.Tensor
    W_V: torch.Tensor
    W_O: torch.Tensor
    b_Q: torch.Tensor  # [n_heads, d_head]
    b_K: torch.Tensor  # [n_kv_heads, d_head]
    b_V: torch.Tensor  # [n_kv_heads, d_head]
    b_O: torch.Tensor  # [d_model]


def _param(module: nn.Module, name: str) -> torch.Tensor:
    p = getattr(module, name)
    assert isinstance(p, torch.Tensor)
    return p.detach().float()


def _linear(module: nn.Module, conv1d: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(W [in, out], b [out]) of an nn.Linear or a GPT-2 Conv1D."""
    w = _param(module, "weight")
    w = w if conv1d else w.T
    bias = getattr(module, "bias", None)
    b = bias.detach().float() if bias is not None else torch.zeros(w.shape[1], device=w.device)
    return w, b


def attn_weights(model: ModelView, layer: int) -> AttnWeights:
    """The attention weights of `layer`, per head."""
    cfg, ad = model.cfg, model.adapter
    h, kvh, dh, dm = cfg.n_heads, cfg.n_kv_heads, cfg.d_head, cfg.d_model
    conv1d = ad.family == "gpt2"
    mods = ad.qkv_projections(model.hf, layer)
    if ad.qkv is QKVLayout.SEPARATE:
        (wq, bq), (wk, bk), (wv, bv) = (_linear(m, conv1d) for m in mods)
    elif ad.qkv is QKVLayout.CONCAT:
        w, b = _linear(mods[0], conv1d)
        wq, wk, wv = w.split(h * dh, dim=1)
        bq, bk, bv = b.split(h * dh)
    else:  # interleaved: output index = head * 3 * d_head + (0: q, 1: k, 2: v) * d_head + i
        w, b = _linear(mods[0], conv1d)
        wq, wk, wv = (x.reshape(dm, -1) for x in w.view(dm, h, 3, dh).unbind(2))
        bq, bk, bv = (x.reshape(-1) for x in b.view(h, 3, dh).unbind(1))
    wo, bo = _linear(getattr(ad.module(model.hf, "attn", layer), _OUT_PROJ[ad.family]), conv1d)

    def per_head(wt: torch.Tensor, n: int) -> torch.Tensor:
        return wt.view(dm, n, dh).permute(1, 0, 2).contiguous()

    return AttnWeights(
        W_Q=per_head(wq, h),
        W_K=per_head(wk, kvh),
        W_V=per_head(wv, kvh),
        W_O=wo.view(h, dh, dm),
        b_Q=bq.view(h, dh),
        b_K=bk.view(kvh, dh),
        b_V=bv.view(kvh, dh),
        b_O=bo,
    )


def kv_head(model: ModelView, head: int) -> int:
    """The key/value head that query head `head` reads under grouped-query attention."""
    return head // (model.cfg.n_heads // model.cfg.n_kv_heads)


def mlp_out_weight(model: ModelView, layer: int) -> torch.Tensor:
    """W_out [d_mlp, d_model]: row i is what neuron i writes to the residual stream."""
    return _linear(model.adapter.module(model.hf, "mlp_out", layer), model.adapter.family == "gpt2")[0]


def embed_weight(model: ModelView) -> torch.Tensor:
    """W_E [d_vocab, d_model]."""
    return _param(model.adapter.module(model.hf, "embed"), "weight")


def unembed(model: ModelView) -> tuple[torch.Tensor, torch.Tensor]:
    """(W_U [d_model, d_vocab], b_U [d_vocab])."""
    head = model.hf.get_output_embeddings()
    if head is None:
        raise LoupeError("unsupported_arch", "this model has no output embedding (lm_head)")
    return _linear(head, conv1d=False)


def norm_gain(module: nn.Module, d_model: int) -> torch.Tensor:
    """The elementwise weight of a LayerNorm / RMSNorm (ones if it has none)."""
    w = getattr(module, "weight", None)
    return w.detach().float() if w is not None else torch.ones(d_model)


def is_layernorm(module: nn.Module) -> bool:
    """True for a centering LayerNorm (GPT-2, NeoX); False for RMSNorm (Llama family)."""
    return isinstance(module, nn.LayerNorm)


def norm_eps(module: nn.Module) -> float:
    eps = getattr(module, "eps", None) or getattr(module, "variance_epsilon", None)
    return float(eps) if eps is not None else 1e-6


def norm_scale(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The divisor the norm applies to `x` [..., d_model] (RMS, or std after centering), shape [..., 1]."""
    x = x.float()
    if is_layernorm(module):
        x = x - x.mean(-1, keepdim=True)
    return (x.pow(2).mean(-1, keepdim=True) + norm_eps(module)).sqrt()


def token_id(model: ModelView, token: int | str, where: str | None = None) -> int:
    """A token id from an id, or from a string that encodes to exactly one token (the error names the pieces
    otherwise). `where` names the request field a server read it from: its errors then carry that path and the
    protocol's code bad_message (bad_input otherwise)."""
    code, at = ("bad_input", "") if where is None else ("bad_message", f"{where}: ")
    if isinstance(token, int):
        if not 0 <= token < model.cfg.d_vocab:
            raise LoupeError(code, f"{at}token id {token} out of range 0..{model.cfg.d_vocab - 1}")
        return token
    ids = model.tokenizer.encode(token, add_special_tokens=False)
    if len(ids) != 1:
        pieces = " + ".join(repr(p) for p in model.decode_each(ids)) if ids else "no tokens"
        raise LoupeError(code, f"{at}{token!r} is {len(ids)} tokens ({pieces}); pass a single token (e.g. ' Mary')")
    return int(ids[0])


def single_prompt(model: ModelView, inputs: Inputs) -> torch.Tensor:
    """Token ids [1, pos] of exactly one prompt."""
    tokens = model.to_tokens(inputs)
    if tokens.shape[0] != 1:
        raise LoupeError("bad_input", f"this analysis takes one prompt, got a batch of {tokens.shape[0]}")
    return tokens
