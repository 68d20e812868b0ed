"""Install the PyTorch hooks one forward pass needs, and only those (uncaptured points cost nothing)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle
from transformers import PreTrainedModel

from loupe.hooks.context import RunContext
from loupe.models.adapters import Adapter, merge_qkv, split_qkv
from loupe.models.config import ModelConfig


def install(hf: PreTrainedModel, adapter: Adapter, cfg: ModelConfig, ctx: RunContext) -> list[RemovableHandle]:
    """Register hooks for `ctx`; the caller removes them in `finally`."""
    handles: list[RemovableHandle] = []
    want = ctx.wanted

    def out_hook(module: nn.Module, name: str) -> None:
        if name in want:
            handles.append(
                module.register_forward_hook(lambda _m, _a, out: _replace(out, ctx.process(name, _first(out))))
            )

    out_hook(adapter.module(hf, "embed"), "hook_embed")
    if adapter.pos_embed is not None:
        out_hook(adapter.module(hf, "pos_embed"), "hook_pos_embed")
    for layer, block in enumerate(adapter.blocks(hf)):
        p = f"blocks.{layer}."
        handles.append(block.register_forward_pre_hook(_resid_pre_hook(ctx, layer), with_kwargs=True))
        out_hook(adapter.module(hf, "ln1", layer), p + "ln1.hook_normalized")
        _install_qkv(hf, adapter, cfg, ctx, layer, handles)
        if p + "hook_attn_out" in want or p + "hook_resid_mid" in want:
            attn = adapter.module(hf, "attn", layer)
            handles.append(attn.register_forward_hook(_attn_out_hook(ctx, layer)))
        out_hook(adapter.module(hf, "ln2", layer), p + "ln2.hook_normalized")
        out_hook(adapter.module(hf, "mlp_in", layer), p + "mlp.hook_pre")
        if p + "mlp.hook_post" in want:
            down = adapter.module(hf, "mlp_out", layer)
            handles.append(
                down.register_forward_pre_hook(
                    lambda _m, args, n=p + "mlp.hook_post": (ctx.process(n, args[0]), *args[1:])
                )
            )
        out_hook(adapter.module(hf, "mlp", layer), p + "hook_mlp_out")
        handles.append(block.register_forward_hook(_resid_post_hook(ctx, layer)))
    out_hook(adapter.module(hf, "final_norm"), "ln_final.hook_normalized")
    lm_head = hf.get_output_embeddings()
    if lm_head is not None:
        out_hook(lm_head, "logits")
    return handles


def _first(out: Any) -> torch.Tensor:
    first = out[0] if isinstance(out, tuple) else out
    assert isinstance(first, torch.Tensor)
    return first


def _replace(out: Any, new: torch.Tensor) -> Any:
    """A forward hook's return: None when unchanged, else `out` with its first tensor replaced."""
    old = _first(out)
    if new is old:
        return None
    return (new, *out[1:]) if isinstance(out, tuple) else new


def _resid_pre_hook(ctx: RunContext, layer: int) -> Any:
    name = f"blocks.{layer}.hook_resid_pre"
    mid = f"blocks.{layer}.hook_resid_mid" in ctx.wanted
    full = ctx.where.batch

    def hook(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        ctx.check_cancel()
        keep = ctx.shrink() if ctx.drop is not None else None
        x = args[0] if args else kwargs["hidden_states"]
        if keep is not None:
            x = x[keep]
        if len(ctx.rows) < full:  # the block's other inputs still have every row: keep those still running
            args, kwargs = _running_rows(args, kwargs, torch.tensor(ctx.rows), full)
        elif name not in ctx.wanted and not mid:
            return None
        new = ctx.process(name, x) if name in ctx.wanted else x
        if mid:
            ctx.resid_pre[layer] = new
        if args:
            return (new, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": new}

    return hook


def _running_rows(
    args: tuple[Any, ...], kwargs: dict[str, Any], rows: torch.Tensor, full: int
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """`rows` of every batched input (mask, positions, rotary tables: [full, ...] tensors, alone or in tuples)."""

    def cut(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.dim() >= 2 and v.shape[0] == full:
            return v[rows]
        if isinstance(v, tuple):
            return tuple(cut(t) for t in v)
        return v

    return tuple(cut(a) for a in args), {k: cut(v) for k, v in kwargs.items()}


def _attn_out_hook(ctx: RunContext, layer: int) -> Any:
    out_name, mid_name = f"blocks.{layer}.hook_attn_out", f"blocks.{layer}.hook_resid_mid"

    def hook(_m: nn.Module, _args: Any, out: Any) -> Any:
        attn_out = _first(out)
        new = ctx.process(out_name, attn_out) if out_name in ctx.wanted else attn_out
        if mid_name in ctx.wanted:
            # resid_mid = resid_pre + attn_out in every sequential block; changing it changes attn_out.
            pre = ctx.resid_pre[layer]
            mid = pre + new
            changed = ctx.process(mid_name, mid)
            if changed is not mid:
                new = changed - pre
        return _replace(out, new)

    return hook


def _resid_post_hook(ctx: RunContext, layer: int) -> Any:
    name = f"blocks.{layer}.hook_resid_post"

    def hook(_m: nn.Module, _args: Any, out: Any) -> Any:
        result = _replace(out, ctx.process(name, _first(out))) if name in ctx.wanted else None
        ctx.layer_done(layer)
        return result

    return hook


def _install_qkv(
    hf: PreTrainedModel, adapter: Adapter, cfg: ModelConfig, ctx: RunContext, layer: int, handles: list[RemovableHandle]
) -> None:
    names = [f"blocks.{layer}.attn.hook_{x}" for x in "qkv"]
    if not any(n in ctx.wanted for n in names):
        return
    modules = adapter.qkv_projections(hf, layer)
    if len(modules) == 1:

        def fused(_m: nn.Module, _a: Any, out: torch.Tensor) -> Any:
            parts = split_qkv(adapter.qkv, [out], cfg)
            new = [ctx.process(n, x) if n in ctx.wanted else x for n, x in zip(names, parts, strict=True)]
            if all(a is b for a, b in zip(new, parts, strict=True)):
                return None
            return merge_qkv(adapter.qkv, new)[0]

        handles.append(modules[0].register_forward_hook(fused))
        return
    heads = (cfg.n_heads, cfg.n_kv_heads, cfg.n_kv_heads)
    for module, name, n_heads in zip(modules, names, heads, strict=True):
        if name not in ctx.wanted:
            continue

        def separate(_m: nn.Module, _a: Any, out: torch.Tensor, name: str = name, h: int = n_heads) -> Any:
            b, t = out.shape[:2]
            x = out.view(b, t, h, -1)
            new = ctx.process(name, x)
            return None if new is x else new.reshape(b, t, -1)

        handles.append(module.register_forward_hook(separate))
