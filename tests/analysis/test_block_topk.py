"""block_topk gives torch.topk's values (and indices that hold them), ties and odd widths included."""

from __future__ import annotations

import pytest
import torch

from loupe.analysis.block_topk import block_topk


@pytest.mark.parametrize("n", [49152, 50257, 1024, 300])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_values_match_torch_topk(n: int, dtype: torch.dtype) -> None:
    torch.manual_seed(n)
    x = torch.randn(37, n).to(dtype)
    x[3] = 1.0  # a row of ties
    x[5, :40] = 9.0  # many ties at the top, more than k
    x[7, n - 3 :] = 50.0  # the winners in the last block
    for k in (1, 5, 17):
        values, ids = block_topk(x, k)
        want = x.topk(k, dim=-1)
        assert torch.equal(values, want.values)
        assert torch.equal(x.gather(1, ids), values)  # the ids hold those values
        assert all(len(set(r)) == k for r in ids.tolist())  # k distinct entries
