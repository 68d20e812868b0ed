"""The shared lens decoder against the plain float32 lens: exact top-1 everywhere, probabilities close."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import loupe
from loupe.analysis.lens_decoder import LensDecoder, _exp_sums, lens_decoder
from tests.conftest import ARCHS

Pair = Callable[[str], tuple[loupe.HookedModel, Any]]

IOI = "When Mary and John went to the store, John gave a drink to"


def _residuals(model: loupe.HookedModel, prompt: str | torch.Tensor) -> torch.Tensor:
    """[n_layers + 1, pos, d_model]: the input of block 0 and every block's output."""
    names = ["blocks.0.hook_resid_pre", *(f"blocks.{layer}.hook_resid_post" for layer in range(model.cfg.n_layers))]
    res = model.run(prompt, capture=names)
    return torch.stack([res.cache[n][0] for n in names])


def _float32_lens(model: loupe.HookedModel, resid: torch.Tensor) -> torch.Tensor:
    """The reference: the model's own final norm and unembedding in float32, written out by hand."""
    norm = model.adapter.module(model.hf, "final_norm")
    head = model.hf.get_output_embeddings()
    with torch.no_grad():
        return head(norm(resid)).float().reshape(-1, model.cfg.d_vocab)


def _prompts() -> list[str | torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [IOI, *(torch.randint(0, 49152, (1, 16), generator=g) for _ in range(20))]


def _check(decoder: LensDecoder, model: loupe.HookedModel, resid: torch.Tensor, k: int) -> int:
    """Assert `decoder` gives the float32 lens's top-k on every (layer, position); rows it settled exactly."""
    ref = _float32_lens(model, resid)
    out = decoder.decode(resid, k=k, target=100)
    want = ref.topk(k, dim=-1)
    same = out.ids == want.indices
    if not bool(same.all()):  # allowed only where float32 itself cannot tell the two tokens apart
        got = ref.gather(1, out.ids)
        assert float((got - want.values).abs()[~same].max()) < 1e-5
    probs = ref.softmax(-1)
    torch.testing.assert_close(out.probs, probs.gather(1, want.indices), atol=1e-2, rtol=0)
    assert out.target_prob is not None
    torch.testing.assert_close(out.target_prob, probs[:, 100], atol=1e-2, rtol=0)
    return out.exact_rows


def test_exact_top1_on_ioi_and_20_random_prompts(smol: loupe.HookedModel) -> None:
    bounded = LensDecoder(smol, fast=True)
    shared = lens_decoder(smol)
    assert lens_decoder(smol) is shared
    rows = settled_exactly = 0
    for prompt in _prompts():
        resid = _residuals(smol, prompt)
        settled_exactly += _check(bounded, smol, resid, k=1)
        _check(shared, smol, resid, k=1)
        rows += resid.shape[0] * resid.shape[1]
    assert settled_exactly < 0.005 * rows  # the bound settles nearly every row without the float32 product (5 of 10354)


def test_top5_and_the_fallback_rows(smol: loupe.HookedModel) -> None:
    resid = _residuals(smol, IOI)
    narrow = LensDecoder(smol, fast=True)
    narrow.MARGIN = 0  # the (k+1)-th candidate is the edge: most rows cannot be proven and fall back
    assert _check(narrow, smol, resid, k=5) > 0
    _check(LensDecoder(smol, fast=True), smol, resid, k=5)


def test_the_bfloat16_error_bound_holds(smol: loupe.HookedModel) -> None:
    decoder = LensDecoder(smol, fast=True)
    assert decoder.fast is not None
    resid = _residuals(smol, IOI).reshape(-1, smol.cfg.d_model)
    x = decoder.normed(resid)
    approx = x.to(torch.bfloat16) @ decoder.fast.T
    exact = x.double() @ decoder.weight.double().T
    err = (approx.double() - exact).abs()
    assert bool((err <= decoder.error_bound(x, approx)).all())


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("fast", [True, False])
def test_tiny_models_both_paths(make_pair: Pair, arch: str, fast: bool) -> None:
    model, _ = make_pair(arch)
    resid = _residuals(model, IOI) * 5  # sharper distributions than a random init gives
    _check(LensDecoder(model, fast=fast), model, resid, k=3)
    empty = LensDecoder(model, fast=fast).decode(resid[:, :0], k=2)
    assert empty.ids.shape == (0, 2)


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("per_product", [None, 16])
def test_decode_with_rows_against_the_float32_lens(
    smol: loupe.HookedModel, fast: bool, per_product: int | None
) -> None:
    """Top-1 of every row and top-5 of chosen rows (in the order asked, across products of `per_product` rows),
    as the plain float32 lens gives them."""
    resid = _residuals(smol, IOI)[-6:].reshape(-1, smol.cfg.d_model)
    ref = _float32_lens(smol, resid)
    rows = [resid.shape[0] - 1, 0, 40, 13]
    decoder = LensDecoder(smol, fast=fast)
    decoder.rows = per_product or decoder.rows
    top, chosen = decoder.decode_with_rows(resid, rows, k=1, rows_k=5)
    assert torch.equal(top.ids[:, 0], ref.argmax(-1))
    assert torch.equal(chosen.ids, ref[rows].topk(5, dim=-1).indices)
    probs = ref.softmax(-1)
    torch.testing.assert_close(top.probs[:, 0], probs.max(-1).values, atol=1e-2, rtol=0)
    torch.testing.assert_close(chosen.probs, probs[rows].topk(5, dim=-1).values, atol=1e-2, rtol=0)


@pytest.mark.parametrize("shifted", [False, True])
def test_exp_sums_in_row_chunks_match_one_pass(shifted: bool) -> None:
    approx = (torch.randn(70, 1000, generator=torch.Generator().manual_seed(0)) * 4 + (70 if shifted else 0)).bfloat16()
    shift = approx.float().max(-1, keepdim=True).values if shifted else None
    # the one-pass formulas chunking replaced: exp of the bf16 logits in bf16, or of the shifted ones in float32
    want = (approx.float() - shift).exp().sum(-1) if shift is not None else approx.exp().sum(-1, dtype=torch.float32)
    torch.testing.assert_close(_exp_sums(approx.clone(), shift), want, rtol=1e-5, atol=0)
