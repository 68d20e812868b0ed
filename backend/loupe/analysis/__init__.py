"""Analyses that turn runs into circuits: logit lens, attribution, patching, head scores, QK/OV, steering."""

from __future__ import annotations

from loupe.analysis.attribution import LogitAttribution, direct_logit_attribution
from loupe.analysis.logit_lens import LensRow, LogitLens, decode_resid, logit_lens
from loupe.analysis.patching import (
    PatchResult,
    SweepRow,
    Target,
    attribution_patching,
    correlation,
    iter_patch_sweep,
    logit_diff,
    patch_sweep,
)

__all__ = [
    "LensRow",
    "LogitAttribution",
    "LogitLens",
    "PatchResult",
    "SweepRow",
    "Target",
    "attribution_patching",
    "correlation",
    "decode_resid",
    "direct_logit_attribution",
    "iter_patch_sweep",
    "logit_diff",
    "logit_lens",
    "patch_sweep",
]
