"""The probe attention's causal mask: made once per shape, right with cached keys, usable with gradients."""

from __future__ import annotations

import torch

from loupe.hooks.attention import _causal_blocked


def test_causal_mask_with_cached_positions() -> None:
    blocked = _causal_blocked(2, 5, torch.device("cpu"))  # 2 new queries after 3 cached positions
    expected = torch.tensor([[False, False, False, False, True], [False, False, False, False, False]])
    assert torch.equal(blocked, expected)
    assert _causal_blocked(2, 5, torch.device("cpu")) is blocked  # one tensor per shape, not one per layer


def test_mask_first_made_in_inference_mode_serves_a_gradient_run() -> None:
    with torch.inference_mode():
        blocked = _causal_blocked(3, 3, torch.device("cpu"))
    assert not blocked.is_inference()
    scores = torch.zeros(1, 1, 3, 3, requires_grad=True)
    out = scores.clone().masked_fill_(blocked, -1e9).softmax(-1)
    out[0, 0, 1, 0].backward()  # saving the mask for backward would fail on an inference tensor
    assert scores.grad is not None
