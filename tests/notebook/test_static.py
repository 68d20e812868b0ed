"""Static views of given tensors: what goes to the page, and clear errors for bad shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import loupe.notebook as nb
from loupe.client import CLIENT_LIMITS
from loupe.codec import unpack
from loupe.errors import LoupeError

TOKENS = ["<s>", "The", " cat", " sat"]


def test_attention_sends_patterns_and_max_pooled_thumbnails() -> None:
    rng = np.random.default_rng(0)
    T = 70  # over the 64-bin thumbnail size
    pattern = torch.softmax(torch.from_numpy(rng.normal(size=(2, 3, T, T)).astype(np.float32)), -1)
    view = nb.attention([f"t{i}" for i in range(T)], pattern)
    assert view.view == "attention"
    data = unpack(view.data, CLIENT_LIMITS)
    assert data["pattern"].shape == (2, 3, T, T) and np.allclose(data["pattern"], pattern.numpy())
    thumbs = data["thumbs"]
    assert thumbs.shape == (2, 3, 64, 64)
    # bin i spans floor(i*T/64)..ceil((i+1)*T/64)-1 and holds the maximum (proto/README.md)
    i, j = 10, 63
    rows = slice(i * T // 64, -(-(i + 1) * T // 64))
    cols = slice(j * T // 64, -(-(j + 1) * T // 64))
    assert thumbs[1, 2, i, j] == pytest.approx(float(pattern[1, 2, rows, cols].max()))


def test_attention_takes_one_head_or_one_layer() -> None:
    one = unpack(nb.attention(TOKENS, np.eye(4)).data, CLIENT_LIMITS)
    assert one["pattern"].shape == (1, 1, 4, 4)
    layer = unpack(nb.attention(TOKENS, np.ones((5, 4, 4)) / 4).data, CLIENT_LIMITS)
    assert layer["pattern"].shape == (1, 5, 4, 4) and layer["str_tokens"] == TOKENS


def test_tokens_rows_and_labels() -> None:
    data = unpack(nb.tokens(TOKENS, [[0.5, -1, 2, 0], [1, 1, 1, 1]], labels=["a", "b"]).data, CLIENT_LIMITS)
    assert data["values"].tolist() == [[0.5, -1, 2, 0], [1, 1, 1, 1]] and data["labels"] == ["a", "b"]
    assert unpack(nb.tokens(TOKENS, np.arange(4)).data, CLIENT_LIMITS)["labels"] == ["0"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: nb.attention(TOKENS, np.ones((4, 5))), "len\\(str_tokens\\) = 4"),
        (lambda: nb.attention(TOKENS, np.ones(4)), "2 to 4 dimensions"),
        (lambda: nb.attention(TOKENS, np.full((4, 4), np.nan)), "NaN"),
        (lambda: nb.tokens(TOKENS, np.ones(3)), "token = len\\(str_tokens\\) = 4"),
        (lambda: nb.tokens(TOKENS, np.ones((2, 4)), labels=["x"]), "labels: expected 2"),
    ],
)
def test_bad_shapes_are_named(call: object, message: str) -> None:
    with pytest.raises(LoupeError, match=message):
        call()  # type: ignore[operator]
