"""An intervened run of a prompt seen before takes its clean logits from the server's cache: no twin row."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from loupe.server.clean_logits import CleanLogits
from loupe.server.host import Host
from loupe.server.limits import Limits
from loupe.server.state import Snapshot


@pytest.mark.parametrize("batching", [True, False])
def test_a_known_prompt_needs_no_clean_twin(make_pair, batching: bool) -> None:
    model, _ = make_pair("llama")
    host = Host(model, Limits(), workers=1, batching=batching)
    rows: list[int] = []
    handle = model.hf.register_forward_pre_hook(
        lambda _m, _a, kw: rows.append(kw["input_ids"].shape[0]), with_kwargs=True
    )
    tokens = model.to_tokens("When Mary and John went to the store")
    ablate = Snapshot([{"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 1}], {}, {})

    def forward(snapshot: Snapshot) -> tuple[Any, torch.Tensor]:
        return host.forward("s", tokens, [], [], snapshot, lambda _l, _t: None, threading.Event())

    try:
        first, clean_first = forward(ablate)  # not seen yet: the clean twin rides along
        _, clean_plain = forward(Snapshot([], {}, {}))
        again, clean_again = forward(ablate)  # seen: one row
    finally:
        handle.remove()
        host.close()
    assert rows == [2, 1, 1]
    want = model.run(tokens).logits[0, -1]
    for clean in (clean_first, clean_plain, clean_again):
        torch.testing.assert_close(clean, want, atol=1e-5, rtol=1e-5)
    ablated = model.run(tokens, interventions=ablate.interventions).logits[0, -1]
    torch.testing.assert_close(again.logits[0, -1], ablated, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(first.logits[0, -1], ablated, atol=1e-5, rtol=1e-5)


def test_the_cache_keeps_the_most_recent_prompts() -> None:
    cache = CleanLogits(size=2)
    a, b, c = (torch.tensor([[i, i + 1]]) for i in range(3))
    cache.put(a, torch.zeros(3))
    cache.put(b, torch.ones(3))
    assert cache.get(a) is not None  # a is now the most recent
    cache.put(c, torch.full((3,), 2.0))
    assert cache.get(b) is None and cache.get(a) is not None and float(cache.get(c)[0]) == 2.0
