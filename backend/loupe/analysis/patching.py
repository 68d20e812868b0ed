"""Activation patching sweeps (batched: many patched rows per forward pass; attribution patching: its own module).

Effects are normalized so that 0 = the clean prompt's metric and 1 = the corrupt prompt's metric:
`effect = (metric(patched) - metric(clean)) / (metric(corrupt) - metric(clean))`, in both directions:
- "noising" (default): run the clean prompt and patch in one corrupt activation. An effect near 1 means
  that component alone carries what the corruption changes; near 0 means it does not matter here.
- "denoising": run the corrupt prompt and patch in one clean activation. An effect near 0 means that
  component alone restores the clean behaviour; near 1 means it restores nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

from loupe.analysis.record import Record
from loupe.analysis.shared_prefix import SharedPrefix
from loupe.analysis.weights import single_prompt, token_id
from loupe.errors import LoupeError
from loupe.hooks.interventions import Patch

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
class SweepSetup:
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


def sweep_setup(
    model: ModelView, clean: Inputs, corrupt: Inputs, metric: Metric, over: Over | Sequence[Target], direction: str
) -> SweepSetup:
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
    return SweepSetup(base_t, source_run.cache, clean_m, corrupt_m, rows, row_labels, col_labels, shared)


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
    return _rows(model, sweep_setup(model, clean, corrupt, metric, over, direction), metric, batch_size)


def _rows(model: ModelView, s: SweepSetup, metric: Metric, batch_size: int) -> Iterator[SweepRow]:
    flat = [(r, c, t) for r, row in enumerate(s.rows) for c, t in enumerate(row)]
    values = torch.full((len(s.rows), len(s.col_labels)), float("nan"))
    prefix = SharedPrefix(model, s, metric)
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
    s = sweep_setup(model, clean, corrupt, metric, over, direction)
    rows = []
    for row in _rows(model, s, metric, batch_size):
        rows.append(row)
        if on_row is not None:
            on_row(row)
    effect = torch.stack([r.effect for r in rows])
    values = torch.stack([r.metric for r in rows])
    kind = over if isinstance(over, str) else "targets"
    return PatchResult(kind, direction, s.row_labels, s.col_labels, effect, values, s.clean_metric, s.corrupt_metric)
