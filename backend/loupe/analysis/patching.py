"""Activation patching sweeps (batched: many patched rows per forward pass) and attribution patching.

Effects are normalized so that 0 = the clean prompt's metric and 1 = the corrupt prompt's metric:
`effect = (metric(patched) - metric(clean)) / (metric(corrupt) - metric(clean))`, in both directions:
- "noising" (default): run the clean prompt and patch in one corrupt activation. An effect near 1 means
  that component alone carries what the corruption changes; near 0 means it does not matter here.
- "denoising": run the corrupt prompt and patch in one clean activation. An effect near 0 means that
  component alone restores the clean behaviour; near 1 means it restores nothing.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch
from transformers import DynamicCache

from loupe.analysis.record import Record
from loupe.analysis.weights import single_prompt, token_id
from loupe.engine.plan import RunPlan, pass_parts, plan
from loupe.errors import Cancelled, LoupeError
from loupe.hooks.apply import Bound, Where
from loupe.hooks.interventions import Ablate, Patch

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.engine.view import ModelView

Metric = Callable[[torch.Tensor], torch.Tensor]  # logits [batch, pos, d_vocab] -> [batch]
Over = Literal["heads", "resid", "layers"]
Direction = Literal["noising", "denoising"]


@dataclass(frozen=True)
class Target:
    """One patch: a hook point, optionally one head and one position (None = all positions)."""

    hook: str
    head: int | None = None
    position: int | None = None


@dataclass
class SweepRow(Record):
    """One finished row of the heatmap: normalized effects and raw metric values per column."""

    index: int
    label: str
    effect: torch.Tensor  # [n_cols]
    metric: torch.Tensor  # [n_cols]


@dataclass
class PatchResult(Record):
    """A rows x columns heatmap of normalized effects (see the module docstring)."""

    over: str
    direction: str
    row_labels: list[str]
    col_labels: list[str]
    effect: torch.Tensor  # [n_rows, n_cols]
    metric: torch.Tensor  # [n_rows, n_cols]: the patched (or, for attribution patching, estimated) metric
    clean_metric: float
    corrupt_metric: float

    def top(self, n: int = 10) -> list[tuple[str, float]]:
        """The `n` cells with the largest absolute effect, labelled "row col"."""
        flat = self.effect.flatten()
        order = flat.abs().argsort(descending=True)[:n].tolist()
        cols = len(self.col_labels)
        return [(f"{self.row_labels[i // cols]} {self.col_labels[i % cols]}", float(flat[i])) for i in order]


@dataclass(frozen=True)
class LogitDiff:
    """Metric: logit of `answer` minus logit of `wrong` (or the answer's logit alone) at `position`."""

    answer: int
    wrong: int | None
    position: int

    @property
    def tail(self) -> int | None:
        """How many final positions the metric reads (None: it needs them all); sweeps unembed only those."""
        return -self.position if self.position < 0 else None

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        at = logits[:, self.position]
        return at[:, self.answer] - at[:, self.wrong] if self.wrong is not None else at[:, self.answer]


def logit_diff(model: ModelView, answer: int | str, wrong: int | str | None = None, position: int = -1) -> LogitDiff:
    """The usual patching metric, for token ids or single-token strings (" Mary")."""
    return LogitDiff(token_id(model, answer), token_id(model, wrong) if wrong is not None else None, position)


@contextmanager
def _unembed_tail(model: ModelView, metric: Metric) -> Iterator[None]:
    """Compute logits only at the last `metric.tail` positions during the runs inside (the rest are unread).

    The unembedding is a fifth of a small model's FLOPs; the hook lives only while the model's lock is held.
    """
    tail = getattr(metric, "tail", None)
    if tail is None:
        yield
        return
    lm_head = model.hf.get_output_embeddings()
    with model.lock:
        handle = lm_head.register_forward_pre_hook(lambda _m, args: (args[0][:, -tail:], *args[1:]))
        try:
            yield
        finally:
            handle.remove()


def grid(
    model: ModelView, over: Over | Sequence[Target], n_pos: int
) -> tuple[list[list[Target]], list[str], list[str]]:
    """The targets of a sweep as rows x columns, with row and column labels."""
    cfg = model.cfg
    layers = range(cfg.n_layers)
    if over == "heads":
        rows = [[Target(f"blocks.{lay}.attn.hook_z", head=h) for h in range(cfg.n_heads)] for lay in layers]
        return rows, [f"L{lay}" for lay in layers], [f"H{h}" for h in range(cfg.n_heads)]
    if over == "resid":
        rows = [[Target(f"blocks.{lay}.hook_resid_pre", position=p) for p in range(n_pos)] for lay in layers]
        return rows, [f"L{lay}" for lay in layers], [f"pos {p}" for p in range(n_pos)]
    if over == "layers":
        rows = [[Target(f"blocks.{lay}.hook_{part}_out") for part in ("attn", "mlp")] for lay in layers]
        return rows, [f"L{lay}" for lay in layers], ["attn", "mlp"]
    if isinstance(over, str):
        raise LoupeError("bad_input", f"'over' must be 'heads', 'resid', 'layers' or a list of targets, got {over!r}")
    targets = list(over)
    return [[t] for t in targets], [_label(t) for t in targets], ["effect"]


def _label(t: Target) -> str:
    head = f" head {t.head}" if t.head is not None else ""
    pos = f" pos {t.position}" if t.position is not None else ""
    return f"{t.hook}{head}{pos}"


@dataclass
class _Setup:
    """What every sweep needs: the tokens to patch, the source activations, the two reference metrics, the grid."""

    base: torch.Tensor  # tokens [1, pos] of the run that gets patched
    source: dict[str, torch.Tensor]  # activations patched in, [1, ...]
    clean_metric: float
    corrupt_metric: float
    rows: list[list[Target]]
    row_labels: list[str]
    col_labels: list[str]
    shared: int  # number of leading tokens the clean and corrupt prompts share

    def normalize(self, metric: torch.Tensor) -> torch.Tensor:
        return (metric - self.clean_metric) / (self.corrupt_metric - self.clean_metric)


def _setup(
    model: ModelView, clean: Inputs, corrupt: Inputs, metric: Metric, over: Over | Sequence[Target], direction: str
) -> _Setup:
    if direction not in ("noising", "denoising"):
        raise LoupeError("bad_input", f"'direction' must be 'noising' or 'denoising', got {direction!r}")
    clean_t, corrupt_t = single_prompt(model, clean), single_prompt(model, corrupt)
    if clean_t.shape != corrupt_t.shape:
        raise LoupeError(
            "bad_input",
            f"clean and corrupt prompts must have the same number of tokens ({clean_t.shape[1]} vs "
            f"{corrupt_t.shape[1]}); pick names or words that are one token each",
        )
    rows, row_labels, col_labels = grid(model, over, clean_t.shape[1])
    hooks = sorted({t.hook for row in rows for t in row})
    base_t, source_t = (clean_t, corrupt_t) if direction == "noising" else (corrupt_t, clean_t)
    source_run = model.run(source_t, capture=hooks)
    base_metric = float(metric(model.run(base_t).logits)[0])
    source_metric = float(metric(source_run.logits)[0])
    clean_m, corrupt_m = (base_metric, source_metric) if direction == "noising" else (source_metric, base_metric)
    if abs(corrupt_m - clean_m) < 1e-6:
        raise LoupeError("bad_input", "the metric is the same on the clean and corrupt prompts: nothing to explain")
    differ = (clean_t[0] != corrupt_t[0]).nonzero()
    shared = int(differ[0]) if len(differ) else clean_t.shape[1]
    return _Setup(base_t, source_run.cache, clean_m, corrupt_m, rows, row_labels, col_labels, shared)


def iter_patch_sweep(
    model: ModelView,
    clean: Inputs,
    corrupt: Inputs,
    metric: Metric,
    over: Over | Sequence[Target] = "heads",
    direction: Direction = "noising",
    batch_size: int = 32,
) -> Iterator[SweepRow]:
    """Yield heatmap rows as they finish; each forward pass runs `batch_size` patches, one per batch row."""
    return _rows(model, _setup(model, clean, corrupt, metric, over, direction), metric, batch_size)


def _rows(model: ModelView, s: _Setup, metric: Metric, batch_size: int) -> Iterator[SweepRow]:
    flat = [(r, c, t) for r, row in enumerate(s.rows) for c, t in enumerate(row)]
    values = torch.full((len(s.rows), len(s.col_labels)), float("nan"))
    prefix = _SharedPrefix(model, s, metric)
    next_row = 0
    for start in range(0, len(flat), max(1, batch_size)):
        chunk = flat[start : start + batch_size]
        patches = [
            Patch(
                hook=t.hook,
                head=t.head,
                positions=(t.position,) if t.position is not None else None,
                rows=(i,),
                source=s.source[t.hook],
            )
            for i, (_, _, t) in enumerate(chunk)
        ]
        with _unembed_tail(model, metric):
            logits = prefix.run(patches, len(chunk))
        out = metric(logits).detach().float().cpu()
        for i, (r, c, _) in enumerate(chunk):
            values[r, c] = out[i]
        last_r, last_c, _ = chunk[-1]
        done = last_r + 1 if last_c == len(s.rows[last_r]) - 1 else last_r
        for r in range(next_row, done):
            yield SweepRow(r, s.row_labels[r], s.normalize(values[r]), values[r].clone())
        next_row = done


class _SharedPrefix:
    """Runs patched batches, reusing the KV cache of the tokens that clean and corrupt prompts share.

    Before the first token where the prompts differ, every activation of the two runs is the same, so no
    patch changes anything there: the batch runs only the remaining positions on top of a cached prefix
    (as generation does). Used when the metric reads only final positions (`tail`) and the model's `run`
    says what it adds to a pass (`pass_parts`: a bare HookedModel, or the server's session model with its
    interventions and cancel flag), unless one of those interventions reads the whole sequence (a mean
    ablation over the run's own positions); otherwise every batch is a full `model.run`.
    """

    def __init__(self, model: ModelView, s: _Setup, metric: Metric) -> None:
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


def patch_sweep(
    model: ModelView,
    clean: Inputs,
    corrupt: Inputs,
    metric: Metric,
    over: Over | Sequence[Target] = "heads",
    direction: Direction = "noising",
    batch_size: int = 32,
    on_row: Callable[[SweepRow], None] | None = None,
) -> PatchResult:
    """The activation-patching heatmap; `on_row` gets each row as soon as its patched runs are done."""
    s = _setup(model, clean, corrupt, metric, over, direction)
    rows = []
    for row in _rows(model, s, metric, batch_size):
        rows.append(row)
        if on_row is not None:
            on_row(row)
    effect = torch.stack([r.effect for r in rows])
    values = torch.stack([r.metric for r in rows])
    kind = over if isinstance(over, str) else "targets"
    return PatchResult(kind, direction, s.row_labels, s.col_labels, effect, values, s.clean_metric, s.corrupt_metric)


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
    s = _setup(model, clean, corrupt, metric, over, direction)
    hooks = sorted(s.source)
    with torch.enable_grad():
        res = model.run(s.base, capture=hooks, grad=True)
        acts = [res.cache[h] for h in hooks]
        grads = torch.autograd.grad(metric(res.logits).sum(), acts, allow_unused=True)
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
