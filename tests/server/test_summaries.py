"""Summaries without a server: thumbnail pooling bins and the bytes of the default view."""

from __future__ import annotations

import math

import torch

from loupe.server.summaries import thumbnails


def test_thumbnail_bins_are_max_pooled() -> None:
    t = 150
    pattern = torch.zeros(2, t, t)
    pattern[1, 149, 0] = 1.0  # lands in the last query bin and the first key bin
    pattern[0, 70, 71] = 0.5
    thumb = thumbnails(pattern)
    assert thumb.shape == (2, 64, 64)
    assert thumb[1, 63, 0] == 1.0 and thumb[0].max() == 0.5
    i = 70 * 64 // t  # bin i spans floor(i*T/P) .. ceil((i+1)*T/P) - 1
    assert math.floor(i * t / 64) <= 70 <= math.ceil((i + 1) * t / 64) - 1
    assert thumb[0, i, (71 * 64) // t] == 0.5


def test_short_patterns_are_sent_exactly() -> None:
    pattern = torch.rand(3, 10, 10)
    assert torch.equal(thumbnails(pattern), pattern)
