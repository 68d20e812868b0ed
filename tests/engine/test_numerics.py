"""Captured activations and logits against Hugging Face's own computation of the same weights."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import ARCHS

PROMPTS = ["The cat sat on the mat because it was", "Hello there", "One two three four five six"]


def ref_forward(ref: torch.nn.Module, res: object, **kw: object) -> object:
    mask = res.attention_mask  # type: ignore[attr-defined]
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        return ref(input_ids=res.tokens, attention_mask=mask, position_ids=pos, **kw)  # type: ignore[attr-defined]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("side", ["left", "right"])
def test_logits_and_patterns_match_hf(make_pair, arch: str, side: str) -> None:
    model, ref = make_pair(arch)
    plain = model.run(PROMPTS, padding_side=side)
    full = model.run(PROMPTS, capture="*", padding_side=side)
    out = ref_forward(ref, full, output_attentions=True, output_hidden_states=True)
    real = full.attention_mask.bool()
    torch.testing.assert_close(plain.logits[real], out.logits[real], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full.logits[real], out.logits[real], atol=1e-5, rtol=1e-5)
    for layer in range(model.cfg.n_layers):
        pattern = full.cache[f"blocks.{layer}.attn.hook_pattern"]
        assert pattern.shape == (3, model.cfg.n_heads, full.tokens.shape[1], full.tokens.shape[1])
        rows = real[:, None, :, None].expand_as(pattern)
        torch.testing.assert_close(pattern[rows], out.attentions[layer][rows], atol=1e-5, rtol=1e-5)
        resid_pre = full.cache[f"blocks.{layer}.hook_resid_pre"]
        torch.testing.assert_close(resid_pre[real], out.hidden_states[layer][real], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_block_points_are_consistent(make_pair, arch: str) -> None:
    """z = pattern @ v per head; q/k/v are the input projections; resid_post = pre + attn_out + mlp_out."""
    model, _ = make_pair(arch)
    cfg = model.cfg
    res = model.run("A short prompt to check the block algebra", capture="*")
    c = res.cache
    for layer in range(cfg.n_layers):
        p = f"blocks.{layer}."
        pattern, v, z = c[p + "attn.hook_pattern"], c[p + "attn.hook_v"], c[p + "attn.hook_z"]
        v_full = v.repeat_interleave(cfg.n_heads // cfg.n_kv_heads, dim=2)  # [b, pos, head, d_head]
        torch.testing.assert_close(z, torch.einsum("bhqk,bkhd->bqhd", pattern, v_full), atol=1e-5, rtol=1e-4)
        assert c[p + "attn.hook_q"].shape[2:] == (cfg.n_heads, cfg.d_head)
        assert c[p + "attn.hook_k"].shape[2:] == (cfg.n_kv_heads, cfg.d_head)
        total = c[p + "hook_resid_pre"] + c[p + "hook_attn_out"] + c[p + "hook_mlp_out"]
        torch.testing.assert_close(c[p + "hook_resid_post"], total, atol=1e-5, rtol=1e-5)
        if not cfg.parallel_attn_mlp:
            mid = c[p + "hook_resid_pre"] + c[p + "hook_attn_out"]
            torch.testing.assert_close(c[p + "hook_resid_mid"], mid, atol=1e-6, rtol=1e-6)
        assert c[p + "mlp.hook_pre"].shape[-1] == cfg.d_mlp == c[p + "mlp.hook_post"].shape[-1]
    assert torch.equal(c["logits"], res.logits)


@pytest.mark.parametrize("arch", ARCHS)
def test_on_layer_streams_in_order(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    seen: list[tuple[int, list[str]]] = []
    res = model.run(
        "Streaming layers",
        capture=["hook_embed", "blocks.*.hook_resid_post"],
        on_layer=lambda layer, t: seen.append((layer, sorted(t))),
    )
    assert [s[0] for s in seen] == list(range(model.cfg.n_layers))
    assert seen[0][1] == ["blocks.0.hook_resid_post", "hook_embed"]
    assert all(names == [f"blocks.{layer}.hook_resid_post"] for layer, names in seen[1:])
    assert set(res.cache) == {"hook_embed", *(f"blocks.{i}.hook_resid_post" for i in range(model.cfg.n_layers))}


def test_streamed_points_reach_on_layer_but_are_not_kept(make_pair) -> None:
    model, _ = make_pair("llama")
    seen: list[str] = []
    res = model.run(
        "Streaming only",
        capture="blocks.1.hook_resid_post",
        stream="blocks.*.attn.hook_pattern",
        on_layer=lambda _layer, t: seen.extend(sorted(t)),
    )
    assert seen == ["blocks.0.attn.hook_pattern", "blocks.1.attn.hook_pattern", "blocks.1.hook_resid_post"]
    assert set(res.cache) == {"blocks.1.hook_resid_post"}


@pytest.mark.parametrize("arch", ARCHS)
def test_unembed_of_the_last_residual_gives_the_logits(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    last = f"blocks.{model.cfg.n_layers - 1}.hook_resid_post"
    res = model.run("The logit lens at the last layer", capture=last)
    with torch.no_grad():
        torch.testing.assert_close(model.unembed(res.cache[last]), res.logits, atol=1e-5, rtol=1e-5)
