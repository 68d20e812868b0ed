"""Analyses that turn runs into circuits: logit lens, attribution, patching, head scores, QK/OV, steering."""

from __future__ import annotations

from loupe.analysis.attribution import LogitAttribution, direct_logit_attribution
from loupe.analysis.logit_lens import LensRow, LogitLens, decode_resid, logit_lens

__all__ = [
    "LensRow",
    "LogitAttribution",
    "LogitLens",
    "decode_resid",
    "direct_logit_attribution",
    "logit_lens",
]
