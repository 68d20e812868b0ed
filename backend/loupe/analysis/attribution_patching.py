"""Attribution patching: the first-order estimate of an activation-patching sweep, and comparing heatmaps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from loupe.analysis.patching import Direction, Metric, Over, PatchResult, Target, sweep_setup
from loupe.engine.compute import on_compute

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.engine.view import ModelView


def attribution_patching(
    model: ModelView,
    clean: Inputs,
    corrupt: Inputs,
    metric: Metric,
    over: Over | Sequence[Target] = "heads",
    direction: Direction = "noising",
) -> PatchResult:
    """The first-order estimate of `patch_sweep` from one forward and one backward pass.

    metric(patched) ~ metric(base) + (source - base activation) . d metric / d activation, summed over the
    patched slice (a head's d_head entries at every position, or one position's d_model entries). Exact
    when the metric is linear in the patched activation; otherwise compare with `patch_sweep` (see
    `correlation`).
    """
    s = sweep_setup(model, clean, corrupt, metric, over, direction)
    hooks = sorted(s.source)
    with torch.enable_grad():
        res = model.run(s.base, capture=hooks, grad=True)
        acts = [res.cache[h] for h in hooks]
        loss = metric(res.logits).sum()
        # a server's backward runs where its passes run: its other threads do torch on one core (engine/compute.py)
        grads = on_compute(model.compute, lambda: torch.autograd.grad(loss, acts, allow_unused=True))
    base_metric = s.clean_metric if direction == "noising" else s.corrupt_metric
    estimate = torch.zeros(len(s.rows), len(s.col_labels))
    for h, act, grad in zip(hooks, acts, grads, strict=True):
        if grad is None:  # the metric does not depend on this point (e.g. positions after the one read)
            continue
        point = model.points[h]
        prod = ((s.source[h] - act.detach()) * grad)[0]  # drop batch; [pos, ...] or [head, q, k]
        for r, row in enumerate(s.rows):
            for c, t in enumerate(row):
                if t.hook != h:
                    continue
                estimate[r, c] = float(_slice(prod, point.pos_dim, point.head_dim, t).sum())
    metric_est = base_metric + estimate
    kind = over if isinstance(over, str) else "targets"
    return PatchResult(
        kind,
        direction,
        s.row_labels,
        s.col_labels,
        s.normalize(metric_est),
        metric_est,
        s.clean_metric,
        s.corrupt_metric,
    )


def _slice(x: torch.Tensor, pos_dim: int, head_dim: int | None, t: Target) -> torch.Tensor:
    """The part of `x` (one row, batch dim dropped) that target `t` patches."""
    picks = []
    if t.position is not None:
        picks.append((pos_dim - 1, t.position))
    if t.head is not None and head_dim is not None:
        picks.append((head_dim - 1, t.head))
    for dim, index in sorted(picks, reverse=True):  # higher dims first, so lower dims keep their index
        x = x.select(dim, index)
    return x


def correlation(a: PatchResult, b: PatchResult) -> float:
    """Pearson correlation between two heatmaps' effects (e.g. attribution patching vs the real sweep)."""
    x, y = a.effect.flatten().double(), b.effect.flatten().double()
    return float(torch.corrcoef(torch.stack([x, y]))[0, 1])
