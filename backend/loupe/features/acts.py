"""One SAE's feature activations in a run: dense, with per-token top-k views."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class FeatureActs:
    """Feature activations of SAE `sae` at `hook`: `dense()` is [batch, pos, d_sae]; `ids`/`values` the top `k`."""

    sae: str
    hook: str
    acts: torch.Tensor  # [batch, pos, d_sae], float32
    k: int = 16

    def top(self, k: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per token, the ids [batch, pos, k] and values [batch, pos, k] of the k largest activations, descending.

        Values are post-activation, so 0 where fewer than k features fire (those ids are arbitrary)."""
        k = min(k or self.k, self.acts.shape[-1])
        top = self.acts.topk(k, dim=-1, sorted=True)
        return top.indices, top.values

    @property
    def ids(self) -> torch.Tensor:
        return self.top()[0]

    @property
    def values(self) -> torch.Tensor:
        return self.top()[1]

    def dense(self) -> torch.Tensor:
        return self.acts
