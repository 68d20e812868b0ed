"""Patched batches on top of the KV cache of the tokens the clean and corrupt prompts share."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from transformers import DynamicCache

from loupe.engine.plan import RunPlan, pass_parts, plan
from loupe.errors import Cancelled
from loupe.hooks.apply import Bound, Where
from loupe.hooks.interventions import Ablate, Patch

if TYPE_CHECKING:
    from loupe.analysis.patching import Metric, SweepSetup
    from loupe.engine.view import ModelView


class SharedPrefix:
    """Runs patched batches, reusing the KV cache of the tokens that clean and corrupt prompts share.

    Before the first token where the prompts differ, every activation of the two runs is the same, so no
    patch changes anything there: the batch runs only the remaining positions on top of a cached prefix
    (as generation does). Used when the metric reads only final positions (`tail`) and the model's `run`
    says what it adds to a pass (`pass_parts`: a bare HookedModel, or the server's session model with its
    interventions and cancel flag), unless one of those interventions reads the whole sequence (a mean
    ablation over the run's own positions); otherwise every batch is a full `model.run`.
    """

    def __init__(self, model: ModelView, s: SweepSetup, metric: Metric) -> None:
        self.model, self.base = model, s.base
        n = s.base.shape[1]
        tail = getattr(metric, "tail", None)
        self.parts = pass_parts(model)
        causal = self.parts is not None and not any(_reads_all_positions(b) for b in self._plan([]).bound)
        self.start = s.shared if causal and tail is not None and tail <= n - s.shared else 0
        self.cache: DynamicCache | None = None
        if self.start > 0:
            self.cache = DynamicCache()
            self._forward(self.base[:, : self.start], [], self.cache, offset=0)

    def run(self, patches: list[Patch], batch: int) -> torch.Tensor:
        """Logits [batch, positions after the shared prefix, d_vocab] with one patch per row."""
        if self.cache is None:
            return self.model.run(self.base.expand(batch, -1), interventions=patches).logits
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(batch)
        return self._forward(self.base[:, self.start :].expand(batch, -1), patches, cache, offset=self.start).float()

    def _plan(self, patches: list[Patch]) -> RunPlan:
        assert self.parts is not None
        p, n = self.parts, self.base.shape[1]
        return plan(p.model, n, interventions=[*p.interventions, *patches], sources=p.sources, vectors=p.vectors)

    def _forward(self, tokens: torch.Tensor, patches: list[Patch], cache: DynamicCache, offset: int) -> torch.Tensor:
        assert self.parts is not None
        model, cancel = self.parts.model, self.parts.cancel
        if cancel is not None and cancel.is_set():
            raise Cancelled("cancelled")
        n, batch = self.base.shape[1], tokens.shape[0]
        ctx = self._plan(patches).context(model, Where(offset, n, batch), cancel=cancel)
        mask = torch.ones(batch, offset + tokens.shape[1], dtype=torch.long, device=tokens.device)
        positions = torch.arange(offset, offset + tokens.shape[1], device=tokens.device).expand(batch, -1)
        with torch.no_grad():
            return model.forward(ctx, tokens, mask, positions, cache)


def _reads_all_positions(b: Bound) -> bool:
    """A mean ablation over the run's own positions: its value at a prefix position depends on later ones."""
    return isinstance(b.iv, Ablate) and b.iv.mode == "mean" and b.tensor is None
