"""Weight layouts against the hooks, direct logit attribution and the logit lens on tiny random models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import loupe
from loupe.analysis import direct_logit_attribution, logit_lens
from loupe.analysis.weights import attn_weights, kv_head, mlp_out_weight
from tests.conftest import ARCHS

PROMPT = "When Mary and John went to the store, John gave a drink to"
Pair = Callable[[str], tuple[loupe.HookedModel, Any]]


@pytest.mark.parametrize("arch", ARCHS)
def test_head_weights_reproduce_the_hooks(make_pair: Pair, arch: str) -> None:
    """q/k/v from ln1's output through W_Q/W_K/W_V, and attn_out from z through W_O, match the captured points."""
    model, _ = make_pair(arch)
    res = model.run(
        PROMPT,
        capture=[
            "blocks.*.ln1.hook_normalized",
            "blocks.*.attn.hook_*",
            "blocks.*.hook_attn_out",
            "blocks.*.mlp.hook_post",
            "blocks.*.hook_mlp_out",
        ],
    )
    for layer in range(model.cfg.n_layers):
        w = attn_weights(model, layer)
        x = res.cache[f"blocks.{layer}.ln1.hook_normalized"][0]
        for name, W, b in (("q", w.W_Q, w.b_Q), ("k", w.W_K, w.b_K), ("v", w.W_V, w.b_V)):
            want = res.cache[f"blocks.{layer}.attn.hook_{name}"][0]
            got = torch.einsum("pm,hmd->phd", x, W) + b
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)
        z = res.cache[f"blocks.{layer}.attn.hook_z"][0]
        out = torch.einsum("phd,hdm->pm", z, w.W_O) + w.b_O
        torch.testing.assert_close(out, res.cache[f"blocks.{layer}.hook_attn_out"][0], atol=1e-5, rtol=1e-4)
        post = res.cache[f"blocks.{layer}.mlp.hook_post"][0]
        mlp_out = res.cache[f"blocks.{layer}.hook_mlp_out"][0]
        # the down projection's bias is the part of mlp_out not explained by W_out
        resid = mlp_out - post @ mlp_out_weight(model, layer)
        torch.testing.assert_close(resid, resid[:1].expand_as(resid), atol=1e-5, rtol=1e-4)


def test_kv_head_groups() -> None:
    class M:
        class cfg:
            n_heads, n_kv_heads = 9, 3

    assert [kv_head(M, h) for h in range(9)] == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("wrong", [None, " John"])
def test_dla_sums_to_the_logit_difference(make_pair: Pair, arch: str, wrong: str | None) -> None:
    model, _ = make_pair(arch)
    dla = direct_logit_attribution(model, PROMPT, " Mary", wrong)
    assert dla.heads.shape == (model.cfg.n_layers, model.cfg.n_heads)
    assert dla.total == pytest.approx(dla.actual, abs=1e-4 * max(1.0, abs(dla.actual)))
    res = model.run(PROMPT)
    mary, john = model.to_tokens(" Mary")[0, 0], model.to_tokens(" John")[0, 0]
    want = res.logit(int(mary)) - (res.logit(int(john)) if wrong else 0.0)
    assert dla.actual == pytest.approx(want, abs=1e-5)
    assert dla.top(3)[0][0] in {lab for lab, _ in dla.top(100)}


@pytest.mark.parametrize("arch", ARCHS)
def test_logit_lens_last_row_is_the_model_output(make_pair: Pair, arch: str) -> None:
    model, _ = make_pair(arch)
    rows: list[int] = []
    lens = logit_lens(model, PROMPT, k=3, target=" Mary", on_row=lambda r: rows.append(r.index))
    assert rows == list(range(model.cfg.n_layers + 1))
    res = model.run(PROMPT)
    top = res.logits[0].softmax(-1).topk(3, dim=-1)
    assert torch.equal(lens.rows[-1].tokens, top.indices)
    # ids exact; probabilities within the shared decoder's bf16 tolerance where it takes that path
    torch.testing.assert_close(lens.rows[-1].probs, top.values, atol=1e-2, rtol=0)
    assert lens.tokens.shape == (model.cfg.n_layers + 1, res.tokens.shape[1], 3)
    assert len(lens.top_str[0]) == res.tokens.shape[1] and lens.rows[0].label == "embed"
    d = lens.to_dict()
    assert d["target_prob"].shape == (model.cfg.n_layers + 1, res.tokens.shape[1])
    with pytest.raises(loupe.LoupeError):
        logit_lens(model, [PROMPT, PROMPT])
