"""What the jobs share: tensors for the wire (`enc`), a request's prompt checked against the limits, capture
sizes, top-k predictions, and a per-model cache. Text becomes one token through `loupe.analysis.weights.token_id`,
the one token parser of the library and the server (`where=` names the request field in its errors)."""

from __future__ import annotations

import math
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from loupe.codec import encode_tensor
from loupe.errors import LoupeError
from loupe.server.host import JobContext

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


def enc(t: torch.Tensor, dtype: str) -> dict[str, Any]:
    return encode_tensor(t, "i32" if not t.is_floating_point() else dtype)


def prompt_tokens(ctx: JobContext, prompt: str | None, tokens: Any) -> torch.Tensor:
    """The request's prompt as ids [1, pos], checked against the prompt limit."""
    model, lim = ctx.host.model, ctx.host.limits
    if (prompt is None) == (tokens is None):
        raise LoupeError("bad_message", f"{ctx.request.type}: give exactly one of 'prompt' and 'tokens'")
    ids = model.to_tokens(prompt if prompt is not None else torch.as_tensor(list(tokens)).long())
    if ids.shape[1] > lim.max_prompt_tokens:
        raise LoupeError("too_long", f"the prompt has {ids.shape[1]} tokens; the limit is {lim.max_prompt_tokens}")
    return ids


def capture_bytes(model: HookedModel, names: list[str], pos: int, itemsize: int) -> int:
    """Bytes of one row of the given hook points for a `pos`-token prompt."""
    return sum(
        math.prod(1 if s == "batch" else (model.cfg.dim(s) or pos) for s in model.hook_shape(n)) * itemsize
        for n in names
    )


def preds(model: HookedModel, logits: torch.Tensor, k: int) -> list[dict[str, Any]]:
    probs = torch.softmax(logits.float(), dim=-1)
    top = probs.topk(k)
    ids = top.indices.tolist()
    # one copy from the device for all k, not two reads of a scalar per prediction
    values, picked = torch.stack([top.values, logits.float()[top.indices]]).tolist()
    return [
        {"token": i, "str": s, "prob": p, "logit": v}
        for i, s, p, v in zip(ids, model.decode_each(ids), values, picked, strict=True)
    ]


_cache: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def cached(model: HookedModel, key: str, make: Callable[[], Any]) -> tuple[Any, bool]:
    """`make()` once per model (`key`); returns (value, whether it came from the cache)."""
    with _cache_lock:
        store = _cache.setdefault(model, {})
        if key in store:
            return store[key], True
    value = make()
    with _cache_lock:
        store[key] = value
    return value, False
