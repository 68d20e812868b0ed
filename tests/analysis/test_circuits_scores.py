"""QK/OV circuits and composition scores against dense matrices; head scores against hand-made patterns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import loupe
from loupe.analysis import composition_scores, head_scores, qk_ov, score_pattern
from loupe.analysis.circuits import _heads, _unembed_folded
from loupe.analysis.head_scores import repeated_tokens
from loupe.analysis.weights import embed_weight
from tests.conftest import ARCHS

Pair = Callable[[str], tuple[loupe.HookedModel, Any]]


def test_folded_ln1_gain_reproduces_the_queries(make_pair: Pair) -> None:
    """RMSNorm: q = (x / rms(x)) @ (gain * W_Q), so folding the gain into W_Q is exact up to the scale."""
    model, _ = make_pair("llama")
    res = model.run("When Mary and John went", capture=["blocks.*.hook_resid_pre", "blocks.*.attn.hook_q"])
    for layer in range(model.cfg.n_layers):
        x = res.cache[f"blocks.{layer}.hook_resid_pre"][0]
        x = x / (x.pow(2).mean(-1, keepdim=True) + 1e-6).sqrt()
        for h, head in enumerate(_heads(model, layer)):
            torch.testing.assert_close(
                x @ head.W_Q, res.cache[f"blocks.{layer}.attn.hook_q"][0, :, h], atol=1e-4, rtol=1e-4
            )


@pytest.mark.parametrize("arch", ARCHS)
def test_composition_equals_dense_frobenius_ratios(make_pair: Pair, arch: str) -> None:
    model, _ = make_pair(arch)
    comp = composition_scores(model)
    heads = [_heads(model, layer) for layer in range(model.cfg.n_layers)]
    L, H = model.cfg.n_layers, model.cfg.n_heads

    def ratio(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a @ b).norm() / (a.norm() * b.norm()))

    for l1 in range(L):
        for h1 in range(H):
            ov1 = heads[l1][h1].W_V @ heads[l1][h1].W_O
            for l2 in range(L):
                for h2 in range(H):
                    got = [float(comp.q[l1, h1, l2, h2]), float(comp.k[l1, h1, l2, h2]), float(comp.v[l1, h1, l2, h2])]
                    if l2 <= l1:
                        assert got == [0.0, 0.0, 0.0]
                        continue
                    b = heads[l2][h2]
                    qk = b.W_Q @ b.W_K.T
                    want = [ratio(ov1, qk), ratio(ov1, qk.T), ratio(ov1, b.W_V @ b.W_O)]
                    assert got == pytest.approx(want, rel=1e-3, abs=1e-5)
    assert len(comp.top("v", 3)) == 3 and comp.top("q", 1)[0][0].startswith("L0")


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_qk_ov_against_dense_circuits(make_pair: Pair, arch: str) -> None:
    model, _ = make_pair(arch)
    tokens = torch.arange(100, 400)
    c = qk_ov(model, 1, 2, tokens=tokens, k=5)
    h = _heads(model, 1)[2]
    W_E, W_U = embed_weight(model), _unembed_folded(model)
    ov = W_E[tokens] @ h.W_V @ h.W_O @ W_U[:, tokens]
    qk = W_E[tokens] @ h.W_Q @ h.W_K.T @ W_E[tokens].T
    for pairs, dense in ((c.ov_top, ov), (c.ov_bottom, ov), (c.qk_top, qk)):
        for r, col, v in zip(pairs.rows, pairs.cols, pairs.values, strict=True):
            assert float(dense[int(r) - 100, int(col) - 100]) == pytest.approx(float(v), rel=1e-4, abs=1e-4)
    assert float(c.ov_top.values[0]) == pytest.approx(float(ov.max()), rel=1e-4)
    assert float(c.ov_bottom.values[0]) == pytest.approx(float(ov.min()), rel=1e-4)
    # sum of eigenvalues = trace of the full-vocabulary OV circuit
    trace = float(((W_E @ h.W_V) * (h.W_O @ W_U).T).sum())
    assert float(c.ov_eigenvalues[:, 0].sum()) == pytest.approx(trace, rel=1e-3)
    assert -1.0 <= c.copying_score <= 1.0 and -1.0 <= c.qk_same_token_score <= 1.0
    own_rank = (ov > ov.diagonal()[:, None]).sum(1)  # how many destinations beat the token itself
    assert c.ov_self_top5 == pytest.approx(float((own_rank < 5).float().mean()))


def hand_pattern(kind: str, seq_len: int, offset: int) -> torch.Tensor:
    """A [1, 1, T, T] pattern that attends exactly where `kind` says, and to position 0 otherwise."""
    t = offset + 2 * seq_len
    p = torch.zeros(1, 1, t, t)
    for q in range(t):
        key = 0
        if kind == "previous_token" and q > offset:
            key = q - 1
        elif kind == "induction" and q >= offset + seq_len:
            key = q - seq_len + 1
        elif kind == "duplicate_token" and q >= offset + seq_len:
            key = q - seq_len
        p[0, 0, q, key] = 1.0
    return p


@pytest.mark.parametrize("offset", [0, 1])
def test_score_pattern_on_hand_made_patterns(offset: int) -> None:
    kinds = ["induction", "previous_token", "duplicate_token"]
    pattern = torch.cat([hand_pattern(k, 6, offset) for k in kinds], dim=1)  # one head per behaviour
    for i, kind in enumerate(kinds):
        scores = score_pattern(pattern, kind, 6, offset)
        assert float(scores[i]) == 1.0
        assert all(float(scores[j]) < 0.25 for j in range(3) if j != i)
    with pytest.raises(loupe.LoupeError):
        score_pattern(pattern, "copying", 6, offset)


@pytest.mark.parametrize("kind", ["induction", "previous_token", "duplicate_token"])
def test_head_scores_match_loops_over_the_real_patterns(make_pair: Pair, kind: str) -> None:
    model, _ = make_pair("llama")
    rows: list[int] = []
    scores = head_scores(model, kind, seq_len=7, batch=3, seed=1, on_row=lambda layer, s: rows.append(layer))  # type: ignore[arg-type]
    assert rows == [0, 1] and scores.scores.shape == (2, 4)
    offset = int(model.tokenizer.bos_token_id is not None)
    tokens = repeated_tokens(model, 7, 3, 1, model.tokenizer.bos_token_id)
    assert torch.equal(tokens[:, offset : offset + 7], tokens[:, offset + 7 :])
    res = model.run(tokens, capture="blocks.*.attn.hook_pattern")
    for layer in range(2):
        pat = res.cache[f"blocks.{layer}.attn.hook_pattern"]
        for h in range(4):
            vals = []
            for b in range(3):
                for q in range(tokens.shape[1]):
                    i = q - offset  # index within the two copies
                    if kind == "previous_token" and i >= 1:
                        vals.append(pat[b, h, q, q - 1])
                    elif kind == "induction" and i >= 7:
                        vals.append(pat[b, h, q, q - 6])
                    elif kind == "duplicate_token" and i >= 7:
                        vals.append(pat[b, h, q, q - 7])
            assert float(scores.scores[layer, h]) == pytest.approx(float(torch.stack(vals).mean()), abs=1e-6)
    again = head_scores(model, kind, seq_len=7, batch=3, seed=1)  # type: ignore[arg-type]
    assert torch.equal(again.scores, scores.scores)
