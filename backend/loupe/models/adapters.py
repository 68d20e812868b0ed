"""Per-architecture maps from Hugging Face module names to Loupe's hook points."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from enum import Enum
from typing import Any

import torch
from torch import nn

from loupe.errors import LoupeError
from loupe.models.config import ModelConfig


class QKVLayout(Enum):
    """How a block's attention input projection lays out queries, keys and values."""

    SEPARATE = "separate"  # q_proj, k_proj, v_proj modules, each [batch, pos, heads * d_head]
    CONCAT = "concat"  # one module, output [q | k | v] along the last dim (GPT-2 c_attn)
    INTERLEAVED = "interleaved"  # one module, output viewed [batch, pos, heads, 3 * d_head] (GPT-NeoX)


@dataclass(frozen=True)
class Adapter:
    """Attribute paths of one architecture family; see `ADAPTERS` for the supported ones."""

    family: str
    base: str
    layers: str
    embed: str
    pos_embed: str | None
    final_norm: str
    attn: str
    ln1: str
    ln2: str
    mlp: str
    qkv: QKVLayout
    qkv_modules: tuple[str, ...]
    mlp_in: str
    mlp_out: str
    rotary: bool

    def base_model(self, hf: nn.Module) -> nn.Module:
        return _get(hf, self.base)

    def blocks(self, hf: nn.Module) -> nn.ModuleList:
        layers = _get(self.base_model(hf), self.layers)
        assert isinstance(layers, nn.ModuleList)
        return layers

    def module(self, hf: nn.Module, part: str, layer: int | None = None) -> nn.Module:
        """A named part: "embed", "pos_embed", "final_norm", or a block part ("attn", "mlp", "ln1", ...); looked
        up once per model (hooks are installed for every pass: ~200 lookups a pass for 30 layers)."""
        found = _MODULES.setdefault(hf, {})
        key = (part, layer)
        if key not in found:
            found[key] = self._find(hf, part, layer)
        return found[key]

    def _find(self, hf: nn.Module, part: str, layer: int | None) -> nn.Module:
        if layer is None:
            return _get(self.base_model(hf), getattr(self, part))
        block: nn.Module = self.blocks(hf)[layer]  # (indexing the ModuleList: no list of every block per lookup)
        if part in ("mlp_in", "mlp_out"):
            return _get(_get(block, self.mlp), getattr(self, part))
        if part == "qkv":
            raise ValueError("use qkv_modules")
        return _get(block, getattr(self, part))

    def qkv_projections(self, hf: nn.Module, layer: int) -> list[nn.Module]:
        attn = self.module(hf, "attn", layer)
        return [_get(attn, name) for name in self.qkv_modules]


_MODULES: weakref.WeakKeyDictionary[nn.Module, dict[tuple[str, int | None], nn.Module]] = weakref.WeakKeyDictionary()


def _get(obj: Any, path: str) -> nn.Module:
    """The submodule at dotted `path` of `obj`."""
    for part in path.split("."):
        obj = getattr(obj, part)
    assert isinstance(obj, nn.Module), path
    return obj


_LLAMA = Adapter(
    family="llama",
    base="model",
    layers="layers",
    embed="embed_tokens",
    pos_embed=None,
    final_norm="norm",
    attn="self_attn",
    ln1="input_layernorm",
    ln2="post_attention_layernorm",
    mlp="mlp",
    qkv=QKVLayout.SEPARATE,
    qkv_modules=("q_proj", "k_proj", "v_proj"),
    mlp_in="gate_proj",
    mlp_out="down_proj",
    rotary=True,
)
_GPT2 = Adapter(
    family="gpt2",
    base="transformer",
    layers="h",
    embed="wte",
    pos_embed="wpe",
    final_norm="ln_f",
    attn="attn",
    ln1="ln_1",
    ln2="ln_2",
    mlp="mlp",
    qkv=QKVLayout.CONCAT,
    qkv_modules=("c_attn",),
    mlp_in="c_fc",
    mlp_out="c_proj",
    rotary=False,
)
_NEOX = Adapter(
    family="gpt_neox",
    base="gpt_neox",
    layers="layers",
    embed="embed_in",
    pos_embed=None,
    final_norm="final_layer_norm",
    attn="attention",
    ln1="input_layernorm",
    ln2="post_attention_layernorm",
    mlp="mlp",
    qkv=QKVLayout.INTERLEAVED,
    qkv_modules=("query_key_value",),
    mlp_in="dense_h_to_4h",
    mlp_out="dense_4h_to_h",
    rotary=True,
)

# Hugging Face `model_type` -> adapter. Llama-shaped families share one adapter.
ADAPTERS: dict[str, Adapter] = {
    "llama": _LLAMA,
    "mistral": _LLAMA,
    "qwen2": _LLAMA,
    "gpt2": _GPT2,
    "gpt_neox": _NEOX,
}


def adapter_for(model_type: str) -> Adapter:
    if model_type not in ADAPTERS:
        supported = ", ".join(sorted(ADAPTERS))
        raise LoupeError("unsupported_arch", f"architecture {model_type!r} is not supported; supported: {supported}")
    return ADAPTERS[model_type]


def config_from_hf(hf_config: Any, name: str) -> ModelConfig:
    """Read the sizes Loupe needs from a Hugging Face config."""
    model_type = hf_config.model_type
    adapter = adapter_for(model_type)
    n_heads = int(hf_config.num_attention_heads)
    d_model = int(hf_config.hidden_size)
    head_dim = getattr(hf_config, "head_dim", None)
    d_mlp = getattr(hf_config, "intermediate_size", None) or getattr(hf_config, "n_inner", None) or 4 * d_model
    n_ctx = getattr(hf_config, "max_position_embeddings", None) or getattr(hf_config, "n_positions", None)
    return ModelConfig(
        name=name,
        arch=model_type,
        n_layers=int(hf_config.num_hidden_layers),
        n_heads=n_heads,
        n_kv_heads=int(getattr(hf_config, "num_key_value_heads", None) or n_heads),
        d_model=d_model,
        d_head=int(head_dim or d_model // n_heads),
        d_mlp=int(d_mlp),
        d_vocab=int(hf_config.vocab_size),
        n_ctx=int(n_ctx or 2048),
        parallel_attn_mlp=bool(model_type == "gpt_neox" and getattr(hf_config, "use_parallel_residual", True)),
        rotary=adapter.rotary,
    )


def split_qkv(layout: QKVLayout, outputs: list[torch.Tensor], cfg: ModelConfig) -> list[torch.Tensor]:
    """Projection outputs -> [q, k, v], each [batch, pos, heads, d_head] (views where possible)."""
    b, t = outputs[0].shape[:2]
    kv = cfg.n_kv_heads
    if layout is QKVLayout.SEPARATE:
        heads = (cfg.n_heads, kv, kv)
        return [o.view(b, t, h, -1) for o, h in zip(outputs, heads, strict=True)]
    if layout is QKVLayout.CONCAT:
        q, k, v = outputs[0].split(cfg.n_heads * cfg.d_head, dim=-1)
        return [x.view(b, t, cfg.n_heads, cfg.d_head) for x in (q, k, v)]
    fused = outputs[0].view(b, t, cfg.n_heads, 3 * cfg.d_head)
    return list(fused.chunk(3, dim=-1))


def merge_qkv(layout: QKVLayout, parts: list[torch.Tensor]) -> list[torch.Tensor]:
    """Inverse of `split_qkv`: per-head tensors back to the projection outputs' layout."""
    b, t = parts[0].shape[:2]
    if layout is QKVLayout.SEPARATE:
        return [p.reshape(b, t, -1) for p in parts]
    if layout is QKVLayout.CONCAT:
        return [torch.cat([p.reshape(b, t, -1) for p in parts], dim=-1)]
    return [torch.cat(parts, dim=-1).reshape(b, t, -1)]
