"""Interventions against independent manual implementations with plain PyTorch hooks on the HF model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

import loupe
from tests.conftest import ARCHS

PROMPT = "The quick brown fox jumps over the lazy dog and then"


def manual(model: loupe.HookedModel, module: nn.Module, hook: Callable[..., Any], pre: bool = False) -> torch.Tensor:
    """Logits of a plain forward with one hand-written PyTorch hook (no Loupe hooks involved)."""
    tokens, mask = model.encode(PROMPT)
    handle = module.register_forward_pre_hook(hook) if pre else module.register_forward_hook(hook)
    try:
        with torch.no_grad():
            return model.hf(input_ids=tokens, attention_mask=mask).logits
    finally:
        handle.remove()


def o_proj(model: loupe.HookedModel, layer: int) -> nn.Module:
    attn = model.adapter.module(model.hf, "attn", layer)
    for name in ("o_proj", "c_proj", "dense"):
        if hasattr(attn, name):
            return getattr(attn, name)
    raise AssertionError("no output projection")


@pytest.mark.parametrize("arch", ARCHS)
def test_zero_head_ablation_equals_zeroing_output_projection_input(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    d, head, layer = model.cfg.d_head, 2, 1

    def zero_slice(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x = args[0].clone()
        x[..., head * d : (head + 1) * d] = 0
        return (x,)

    expected = manual(model, o_proj(model, layer), zero_slice, pre=True)
    got = model.run(PROMPT, interventions=[{"op": "ablate", "hook": f"blocks.{layer}.attn.hook_z", "head": head}])
    torch.testing.assert_close(got.logits, expected, atol=1e-5, rtol=1e-5)
    plain = model.run(PROMPT)
    assert not torch.allclose(plain.logits, got.logits, atol=1e-4)
    # Zeroing the head's pattern also zeroes its output (z = pattern @ v).
    via_pattern = model.run(PROMPT, interventions=[loupe.Ablate(hook=f"blocks.{layer}.attn.hook_pattern", head=head)])
    torch.testing.assert_close(via_pattern.logits, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_steering_equals_adding_vector_with_forward_hook(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    torch.manual_seed(1)
    vec, scale, layer = torch.randn(model.cfg.d_model), 3.0, 0
    block = model.adapter.blocks(model.hf)[layer]
    expected = manual(model, block, lambda _m, _a, out: out + scale * vec)
    steer = {"op": "steer", "hook": f"blocks.{layer}.hook_resid_post", "vector": vec.tolist(), "scale": scale}
    got = model.run(PROMPT, interventions=[steer])
    torch.testing.assert_close(got.logits, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ["gpt2", "llama", "neox_sequential"])
def test_resid_mid_steering_equals_adding_to_attention_output(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    vec = torch.linspace(-1, 1, model.cfg.d_model)
    attn = model.adapter.module(model.hf, "attn", 1)
    expected = manual(model, attn, lambda _m, _a, out: (out[0] + 2.0 * vec, *out[1:]))
    got = model.run(PROMPT, interventions=[loupe.Steer(hook="blocks.1.hook_resid_mid", vector=vec, scale=2.0)])
    torch.testing.assert_close(got.logits, expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_neuron_scale_equals_scaling_down_projection_input(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    down = model.adapter.module(model.hf, "mlp_out", 0)

    def halve(_m: nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x = args[0].clone()
        x[..., 5] *= 0.5
        return (x,)

    expected = manual(model, down, halve, pre=True)
    got = model.run(
        PROMPT, interventions=[{"op": "scale", "hook": "blocks.0.mlp.hook_post", "index": 5, "factor": 0.5}]
    )
    torch.testing.assert_close(got.logits, expected, atol=1e-5, rtol=1e-5)


def test_head_scale_scales_that_heads_output(make_pair) -> None:
    model, _ = make_pair("llama")
    zero = {"op": "ablate", "hook": "blocks.1.attn.hook_z", "head": 1}
    scaled = {"op": "scale", "hook": "blocks.1.attn.hook_z", "head": 1, "factor": 0.0}
    ablated = model.run(PROMPT, interventions=[zero])
    torch.testing.assert_close(model.run(PROMPT, interventions=[scaled]).logits, ablated.logits)
    clean = model.run(PROMPT, capture="blocks.1.attn.hook_z")
    doubled = model.run(PROMPT, capture="blocks.1.attn.hook_z", interventions=[{**scaled, "factor": 2.0}])
    z, z2 = clean.cache["blocks.1.attn.hook_z"], doubled.cache["blocks.1.attn.hook_z"]
    torch.testing.assert_close(z2[:, :, 1], 2 * z[:, :, 1])
    torch.testing.assert_close(z2[:, :, 0], z[:, :, 0])


@pytest.mark.parametrize("arch", ARCHS)
def test_full_residual_patch_reproduces_source_run(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    clean = model.run(PROMPT)
    other = torch.randint(0, model.cfg.d_vocab, clean.tokens.shape, generator=torch.Generator().manual_seed(3))
    corrupt = model.run(other, capture="blocks.1.hook_resid_pre")
    patched = model.run(PROMPT, interventions=[loupe.Patch(hook="blocks.1.hook_resid_pre", source=corrupt)])
    torch.testing.assert_close(patched.logits, corrupt.logits, atol=1e-5, rtol=1e-5)
    # Patching only the last position leaves earlier positions' logits untouched.
    last = loupe.Patch(hook="blocks.1.hook_resid_pre", source="c", positions=(-1,))
    partial = model.run(PROMPT, interventions=[last], sources={"c": corrupt})
    torch.testing.assert_close(partial.logits[:, :-1], clean.logits[:, :-1])
    src = corrupt.cache["blocks.1.hook_resid_pre"]

    def swap_last(_m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        x = (args[0] if args else kwargs["hidden_states"]).clone()
        x[:, -1] = src[:, -1]
        return ((x, *args[1:]), kwargs) if args else (args, {**kwargs, "hidden_states": x})

    block = model.adapter.blocks(model.hf)[1]
    handle = block.register_forward_pre_hook(swap_last, with_kwargs=True)
    try:
        with torch.no_grad():
            expected = model.hf(input_ids=clean.tokens).logits
    finally:
        handle.remove()
    torch.testing.assert_close(partial.logits, expected, atol=1e-5, rtol=1e-5)


def test_mean_ablation_and_rows(make_pair) -> None:
    model, _ = make_pair("llama")
    hook = "blocks.0.hook_mlp_out"
    clean = model.run([PROMPT, PROMPT], capture=hook)
    mean = clean.cache[hook].mean(dim=(0, 1))
    mlp = model.adapter.module(model.hf, "mlp", 0)
    expected = manual(model, mlp, lambda _m, _a, out: mean.expand_as(out))
    got = model.run([PROMPT, PROMPT], interventions=[{"op": "ablate", "hook": hook, "mode": "mean", "rows": [1]}])
    torch.testing.assert_close(got.logits[0], clean.logits[0])
    torch.testing.assert_close(got.logits[1], expected[0], atol=1e-5, rtol=1e-5)


def test_interventions_compose_and_disabled_ones_are_skipped(make_pair) -> None:
    model, _ = make_pair("gpt2")
    a = {"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 1}
    b = {"op": "steer", "hook": "blocks.1.hook_resid_pre", "vector": [0.5] * model.cfg.d_model}
    both = model.run(PROMPT, interventions=[a, b]).logits
    assert not torch.allclose(both, model.run(PROMPT, interventions=[a]).logits)
    assert not torch.allclose(both, model.run(PROMPT, interventions=[b]).logits)
    off = model.run(PROMPT, interventions=[a, {**b, "enabled": False}]).logits
    torch.testing.assert_close(off, model.run(PROMPT, interventions=[a]).logits)


@pytest.mark.parametrize(
    ("iv", "message"),
    [
        ({"op": "ablate", "hook": "blocks.9.attn.hook_z"}, "unknown hook point"),
        ({"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 4}, "head 4 out of range"),
        ({"op": "ablate", "hook": "blocks.0.hook_resid_post", "head": 0}, "no head dimension"),
        ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": [1.0, 2.0]}, "must have 32 entries"),
        ({"op": "explode", "hook": "blocks.0.hook_resid_post"}, "'op' must be one of"),
        ({"op": "ablate", "hook": "blocks.0.hook_resid_post", "mode": "max"}, "'zero' or 'mean'"),
        ({"op": "patch", "hook": "blocks.0.hook_resid_post", "source": "nope"}, "unknown source run"),
        ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": "v9"}, "unknown vector"),
        ({"op": "ablate", "hook": "blocks.0.hook_resid_post", "positions": [99]}, "out of range"),
        ({"op": "ablate", "hook": "blocks.0.hook_resid_post", "colour": 1}, "unknown field"),
        ({"op": "scale", "hook": "blocks.0.mlp.hook_post", "factor": 2.0, "index": 1, "direction": [1.0]}, "not both"),
        ("ablate everything", "must be a map"),
    ],
)
def test_bad_interventions_raise_clear_errors(make_pair, iv: Any, message: str) -> None:
    model, _ = make_pair("llama")
    with pytest.raises(loupe.LoupeError, match=message) as info:
        model.run(PROMPT, interventions=[iv])
    assert info.value.code in ("bad_intervention", "unknown_hook")


def test_bad_inputs_raise_clear_errors(make_pair) -> None:
    model, _ = make_pair("llama")
    with pytest.raises(loupe.LoupeError, match="empty") as info:
        model.run("")
    assert info.value.code == "empty_prompt"
    with pytest.raises(loupe.LoupeError, match="context is 64") as info:
        model.run("word " * 100)
    assert info.value.code == "too_long"
    with pytest.raises(loupe.LoupeError, match="matches no hook point"):
        model.run(PROMPT, capture=["blocks.*.attn.hook_nothing"])
    with pytest.raises(loupe.LoupeError, match="token ids must be in"):
        model.run(torch.tensor([1, 2, 10**6]))
    assert model.run(PROMPT).logits.shape[-1] == model.cfg.d_vocab  # still usable afterwards


def test_patch_from_a_prompt_of_another_length(make_pair) -> None:
    model, _ = make_pair("llama")
    short = model.run("A lazy cat sat", capture="blocks.0.hook_resid_post")
    with pytest.raises(loupe.LoupeError, match="give 'positions'"):
        model.run(PROMPT, interventions=[loupe.Patch(hook="blocks.0.hook_resid_post", source=short)])
    patched = model.run(
        PROMPT, interventions=[loupe.Patch(hook="blocks.0.hook_resid_post", source=short, positions=(1,))]
    )
    clean = model.run(PROMPT)
    torch.testing.assert_close(patched.logits[:, :1], clean.logits[:, :1])
    assert not torch.allclose(patched.logits[:, 1], clean.logits[:, 1])
