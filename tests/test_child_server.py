"""`child_server`: the benchmarks' `loupe serve` of an in-memory model, in a child process on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

import loupe
from loupe.bench.child_server import child_server
from loupe.client import SyncClient


def test_the_child_serves_the_same_weights(make_pair: Callable[[str], tuple[loupe.HookedModel, Any]]) -> None:
    model, _ = make_pair("llama")
    with child_server(model) as url, SyncClient(url, timeout=60) as client:
        assert url.startswith("ws://127.0.0.1:")
        got = client.run("When Mary and John", top_k=3)
    want = model.run("When Mary and John").logits[0, -1].softmax(-1).topk(3)
    assert [p["token"] for p in got.top_k] == want.indices.tolist()
    torch.testing.assert_close(torch.tensor([p["prob"] for p in got.top_k]), want.values, atol=1e-5, rtol=1e-4)
