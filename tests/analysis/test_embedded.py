"""The analyses on the embedded SmolLM2 model: the IOI and induction findings of docs/analysis.md."""

from __future__ import annotations

import pytest

import loupe
from loupe.analysis import (
    Target,
    attribution_patching,
    direct_logit_attribution,
    head_scores,
    logit_diff,
    logit_lens,
    patch_sweep,
)

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When Mary and John went to the store, Mary gave a drink to"


def test_ioi_dla_and_patching_single_out_l23h3(smol: loupe.HookedModel) -> None:
    dla = direct_logit_attribution(smol, CLEAN, " Mary", " John")
    assert dla.actual == pytest.approx(6.12, abs=0.01) and dla.total == pytest.approx(dla.actual, abs=1e-3)
    assert dla.top(1)[0][0] == "L23H3" and float(dla.heads[23, 3]) > 2.5
    metric = logit_diff(smol, " Mary", " John")
    targets = [Target("blocks.23.attn.hook_z", head=3), Target("blocks.5.attn.hook_z", head=7)]
    exact = patch_sweep(smol, CLEAN, CORRUPT, metric, over=targets)
    approx = attribution_patching(smol, CLEAN, CORRUPT, metric, over=targets)
    assert exact.corrupt_metric < 0 < exact.clean_metric
    assert float(exact.effect[0, 0]) > 0.5 and abs(float(exact.effect[1, 0])) < 0.05
    assert float(approx.effect[0, 0]) > 0.3 and abs(float(approx.effect[1, 0])) < 0.05


def test_induction_heads_and_the_lens(smol: loupe.HookedModel) -> None:
    scores = head_scores(smol, "induction", seq_len=20, batch=2)
    top = [name for name, _ in scores.top(3)]
    assert "L18H6" in top or "L17H3" in top
    lens = logit_lens(smol, CLEAN, k=1)
    assert lens.top_str[-1][-1][0] == " Mary"
