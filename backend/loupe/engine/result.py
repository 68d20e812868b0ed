"""What a run returns: tokens, logits, the captured activations and SAE feature activations."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class RunResult:
    """Output of `HookedModel.run`; `cache` maps hook names to tensors shaped as in hooks/points.py."""

    tokens: torch.Tensor  # [batch, pos]
    attention_mask: torch.Tensor  # [batch, pos], 1 for real tokens
    logits: torch.Tensor  # [batch, pos, d_vocab], float32
    str_tokens: list[list[str]]
    cache: dict[str, torch.Tensor] = field(default_factory=dict)
    features: dict[str, FeatureActs] = field(default_factory=dict)  # by SAE id, for run(features=[...])

    def last_position(self, row: int = 0) -> int:
        """Index of the last real (non-padding) token of `row`."""
        return int(self.attention_mask[row].nonzero().max())

    def _pos(self, pos: int, row: int) -> int:
        return self.last_position(row) if pos == -1 else pos

    def probs(self, pos: int = -1, row: int = 0) -> torch.Tensor:
        """Next-token probabilities [d_vocab] after position `pos` (-1 = last real token)."""
        return torch.softmax(self.logits[row, self._pos(pos, row)].float(), dim=-1)

    def top_k(self, k: int = 10, pos: int = -1, row: int = 0) -> list[tuple[int, float]]:
        """The k most likely next tokens as (token id, probability)."""
        top = self.probs(pos, row).topk(k)
        return [(int(i), float(p)) for p, i in zip(top.values, top.indices, strict=True)]

    def logit(self, token: int, pos: int = -1, row: int = 0) -> float:
        return float(self.logits[row, self._pos(pos, row), token])
