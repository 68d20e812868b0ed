"""Static views of any tensors, for CircuitsVis habits: attention patterns and per-token values.

The data travels as one wire-protocol frame (`loupe.codec`) in a binary trait; the page draws it
with the same components as the live views (the attention grid and head pattern, the token strip).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import traitlets

from loupe.codec import pack
from loupe.errors import LoupeError
from loupe.notebook.bundle import LoupeView
from loupe.server.summaries import thumbnails


class StaticView(LoupeView):
    """A view of tensors given from Python (`attention`, `tokens`); `data` is one packed frame."""

    data = traitlets.Bytes(b"").tag(sync=True)


def _array(values: Any, name: str) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().float().cpu().numpy()
    arr = np.asarray(values, dtype=np.float32)
    if not np.isfinite(arr).all():
        raise LoupeError("bad_input", f"{name}: has NaN or infinite values")
    return arr


def attention(str_tokens: Sequence[str], pattern: Any, title: str = "Attention") -> StaticView:
    """Every head's pattern as the attention grid, click one for its full pattern.

    `pattern`: [query, key], [head, query, key] or [layer, head, query, key] (numpy or torch), with
    query = key = len(str_tokens)."""
    arr = _array(pattern, "pattern")
    if arr.ndim < 2 or arr.ndim > 4:
        raise LoupeError(
            "bad_input", f"pattern: expected 2 to 4 dimensions ([layer, head,] query, key), got shape {list(arr.shape)}"
        )
    arr = arr.reshape((1,) * (4 - arr.ndim) + arr.shape)
    n = len(str_tokens)
    if arr.shape[-2:] != (n, n):
        raise LoupeError(
            "bad_input", f"pattern: the last two dimensions must both be len(str_tokens) = {n}, got {list(arr.shape)}"
        )
    thumbs = np.stack([thumbnails(torch.from_numpy(layer)).numpy() for layer in arr])
    frame = {"kind": "attention", "title": title, "str_tokens": list(str_tokens), "pattern": arr, "thumbs": thumbs}
    return StaticView(view="attention", data=pack(frame))


def tokens(
    str_tokens: Sequence[str], values: Any, labels: Sequence[str] | None = None, title: str = "Tokens"
) -> StaticView:
    """Values per token as a heatmap of rows × tokens (a row per entry of `labels`).

    `values`: [token] or [row, token] (numpy or torch) with token = len(str_tokens)."""
    arr = _array(values, "values")
    if arr.ndim == 1:
        arr = arr[None]
    n = len(str_tokens)
    if arr.ndim != 2 or arr.shape[1] != n:
        raise LoupeError(
            "bad_input",
            f"values: expected [token] or [row, token] with token = len(str_tokens) = {n}, got {list(arr.shape)}",
        )
    names = list(labels) if labels is not None else [str(i) for i in range(arr.shape[0])]
    if len(names) != arr.shape[0]:
        raise LoupeError("bad_input", f"labels: expected {arr.shape[0]} (one per row of values), got {len(names)}")
    frame = {"kind": "tokens", "title": title, "str_tokens": list(str_tokens), "values": arr, "labels": names}
    return StaticView(view="tokens", data=pack(frame))
