"""Analyses that turn runs into circuits: logit lens, attribution, patching, head scores, QK/OV, steering."""

from __future__ import annotations

from loupe.analysis.attribution import LogitAttribution, direct_logit_attribution
from loupe.analysis.attribution_patching import attribution_patching, correlation
from loupe.analysis.circuits import Composition, HeadCircuits, composition_scores, qk_ov, word_tokens
from loupe.analysis.head_scores import HeadScores, all_head_scores, head_scores, score_pattern
from loupe.analysis.logit_lens import LensRow, LogitLens, decode_resid, logit_lens
from loupe.analysis.patching import (
    LogitDiff,
    PatchResult,
    SweepRow,
    Target,
    iter_patch_sweep,
    logit_diff,
    patch_sweep,
)
from loupe.analysis.steering import embedding_vector, mean_resid, neuron_vector, steering_vector

__all__ = [
    "Composition",
    "HeadCircuits",
    "HeadScores",
    "LensRow",
    "LogitAttribution",
    "LogitDiff",
    "LogitLens",
    "PatchResult",
    "SweepRow",
    "Target",
    "all_head_scores",
    "attribution_patching",
    "composition_scores",
    "correlation",
    "decode_resid",
    "direct_logit_attribution",
    "embedding_vector",
    "head_scores",
    "iter_patch_sweep",
    "logit_diff",
    "logit_lens",
    "mean_resid",
    "neuron_vector",
    "patch_sweep",
    "qk_ov",
    "score_pattern",
    "steering_vector",
    "word_tokens",
]
