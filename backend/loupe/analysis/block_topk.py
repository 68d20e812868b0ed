"""Exact top-k along the last axis of a wide [rows, n] tensor, reading most of it once (for the lens's
[rows, 49152] bfloat16 logits: 17 of 49152 in ~0.6x the time of `torch.topk`, measured on 512 rows).

The k largest entries of a row lie in the k blocks with the largest block maxima: an entry e in any other block
has at least k block maxima >= e in the blocks that rank above its own, so at least k entries larger than or
equal to it. So a max over each block, a top-k of those, and a top-k over the k chosen blocks' entries give the
row's top k (values exactly as `torch.topk` gives them; among equal values, any of them).
"""

from __future__ import annotations

import torch

BLOCKS = (256, 128, 64)  # block widths tried, widest first


def block_topk(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(values, indices) [rows, k] of the k largest entries of each row of `x` [rows, n], best first."""
    rows, n = x.shape
    block = next((b for b in BLOCKS if n % b == 0 and n // b >= 4 * k), None)
    if block is None:  # no block width fits: the plain selection
        top = x.topk(k, dim=-1)
        return top.values, top.indices
    blocks = x.reshape(rows, n // block, block)
    chosen = blocks.amax(-1).topk(k, dim=-1).indices  # [rows, k] block numbers
    entries = blocks.gather(1, chosen[:, :, None].expand(-1, -1, block)).reshape(rows, k * block)
    top = entries.topk(k, dim=-1)
    return top.values, chosen.gather(1, top.indices // block) * block + top.indices % block
