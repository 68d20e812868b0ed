"""Feature dashboards: per feature, its top-activating contexts with per-token activations, its activation
density and a histogram, computed over a corpus, and its most promoted/suppressed tokens (features/logits.py,
from the weights; stored so that opening a feature is a lookup).

Stored next to the SAE's cfg.json: dashboard.safetensors (the tensors of `Dashboard`) and dashboard.json
(`n_tokens`, `window`, `before`, free-form `info` such as the corpus, optional `labels` by feature index).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from loupe.errors import Cancelled, LoupeError
from loupe.features.logits import top_logits

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.features.sae import SAE

TENSORS_FILE = "dashboard.safetensors"
JSON_FILE = "dashboard.json"
# Histograms are accumulated on one fine log10 grid shared by all features, then merged per feature into at
# most n_bins log-spaced bins spanning that feature's own range (values outside 1e-4..1e4 land in the end bins).
LOG_LO, LOG_HI, FINE_BINS = -4.0, 4.0, 256
STEP = (LOG_HI - LOG_LO) / FINE_BINS


@dataclass
class Dashboard:
    """Corpus statistics of every feature of one SAE (d_sae = F, C contexts of W tokens each)."""

    n_tokens: int  # tokens seen (special tokens excluded)
    density: torch.Tensor  # [F] fraction of tokens where the feature fires (> 0)
    max: torch.Tensor  # [F] largest activation
    hist_counts: torch.Tensor  # [F, n_bins] int32: non-zero activations per log-spaced bin
    hist_range: torch.Tensor  # [F, 2] first and last bin edge
    hist_bins: torch.Tensor  # [F] int32: bins used (0 for a feature that never fired)
    ctx_tokens: torch.Tensor  # [F, C, W] int32 token ids; -1 outside the sequence
    ctx_values: torch.Tensor  # [F, C, W] the feature's activation on each token of the window
    window: int = 16
    before: int = 12  # tokens of each window before the maximum
    logit_ids: torch.Tensor | None = None  # [F, 2, K] int32: promoted (row 0) and suppressed (row 1) tokens
    logit_values: torch.Tensor | None = None  # [F, 2, K] their logit effects (None in dashboards saved before them)
    labels: dict[int, str] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    _texts: list[list[str]] | None = field(default=None, repr=False, compare=False)  # see context_texts

    def context_texts(self, decode: Callable[[list[int]], list[str]]) -> list[list[str]]:
        """[F][C] each context's text, lower-cased (computed once, decoding each distinct token id once)."""
        if self._texts is None:
            ids = sorted(set(self.ctx_tokens.unique().tolist()) - {-1})
            vocab = dict(zip(ids, decode(ids), strict=True))
            self._texts = [
                ["".join(vocab[t] for t in ctx if t >= 0).lower() for ctx in feature]
                for feature in self.ctx_tokens.tolist()
            ]
        return self._texts

    @property
    def d_sae(self) -> int:
        return int(self.density.shape[0])

    def histogram(self, index: int) -> dict[str, list[Any]]:
        m = int(self.hist_bins[index])
        if m == 0:
            return {"edges": [], "counts": []}
        first, last = (float(v) for v in self.hist_range[index])
        edges = [first * (last / first) ** (j / m) for j in range(m + 1)]
        return {"edges": edges, "counts": self.hist_counts[index, :m].tolist()}

    def contexts(self, index: int, decode: Callable[[list[int]], list[str]]) -> list[dict[str, Any]]:
        """The feature's top contexts, best first: token strings, per-token activations and the window's max."""
        out = []
        for toks, vals in zip(self.ctx_tokens[index].tolist(), self.ctx_values[index].float().tolist(), strict=True):
            keep = [i for i, t in enumerate(toks) if t >= 0]
            values = [vals[i] for i in keep]
            if not values or max(values) <= 0:
                continue
            out.append({"tokens": decode([toks[i] for i in keep]), "values": values, "max": max(values)})
        return out

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        tensors = {
            "density": self.density.float(),
            "max": self.max.float(),
            "hist_counts": self.hist_counts.int(),
            "hist_range": self.hist_range.float(),
            "hist_bins": self.hist_bins.int(),
            "ctx_tokens": self.ctx_tokens.int(),
            "ctx_values": self.ctx_values.half(),
        }
        if self.logit_ids is not None and self.logit_values is not None:
            tensors |= {"logit_ids": self.logit_ids.int(), "logit_values": self.logit_values.float()}
        save_file({k: v.contiguous().cpu() for k, v in tensors.items()}, folder / TENSORS_FILE)
        meta: dict[str, Any] = {"version": 1, "n_tokens": self.n_tokens, "window": self.window, "before": self.before}
        meta |= {"info": self.info, "labels": {str(k): v for k, v in self.labels.items()}}
        (folder / JSON_FILE).write_text(json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: str | Path, d_sae: int) -> Dashboard | None:
        """The dashboard saved in `folder`, None if there is none; LoupeError(bad_input) if it is corrupt."""
        folder = Path(folder)
        if not (folder / TENSORS_FILE).is_file():
            return None
        try:
            t = load_file(str(folder / TENSORS_FILE))
            meta = json.loads((folder / JSON_FILE).read_text())
            dash = cls(
                n_tokens=int(meta["n_tokens"]),
                density=t["density"],
                max=t["max"],
                hist_counts=t["hist_counts"],
                hist_range=t["hist_range"],
                hist_bins=t["hist_bins"],
                ctx_tokens=t["ctx_tokens"],
                ctx_values=t["ctx_values"].float(),
                window=int(meta["window"]),
                before=int(meta["before"]),
                logit_ids=t.get("logit_ids"),
                logit_values=t.get("logit_values"),
                labels={int(k): str(v) for k, v in meta.get("labels", {}).items()},
                info=dict(meta.get("info", {})),
            )
        except (SafetensorError, OSError, ValueError, KeyError, TypeError) as exc:
            raise LoupeError("bad_input", f"dashboard in {folder}: unreadable ({type(exc).__name__}: {exc})") from None
        if dash.d_sae != d_sae or dash.ctx_tokens.shape[0] != d_sae:
            raise LoupeError("bad_input", f"dashboard in {folder} has {dash.d_sae} features; the SAE has {d_sae}")
        for table in (dash.logit_ids, dash.logit_values):
            if table is not None and (table.ndim != 3 or table.shape[:2] != (d_sae, 2)):
                got = f"logit table of shape {list(table.shape)}, not [{d_sae}, 2, K]"
                raise LoupeError("bad_input", f"dashboard in {folder}: {got}")
        return dash


def compute_dashboard(
    model: HookedModel,
    sae: SAE,
    tokens: torch.Tensor,
    batch_size: int = 8,
    n_contexts: int = 16,
    window: int = 16,
    before: int | None = None,
    n_bins: int = 20,
    progress: Callable[[int, int], None] | None = None,
    info: dict[str, Any] | None = None,
) -> Dashboard:
    """Run the model over `tokens` [N, T] (rows of a corpus, up to the SAE's layer) and gather every feature's
    statistics; the promoted/suppressed token tables come from the weights (`top_logits`).

    Each row gives a feature at most one context (the window around its maximum in that row), so the
    contexts come from different rows; a window has `before` tokens (default 3/4 of it) before the maximum.
    Positions holding special tokens (BOS, EOS, ...) are left out. `progress(rows done, rows)` is called
    after each batch."""
    before = window * 3 // 4 if before is None else before
    if not 0 <= before < window:
        raise ValueError(f"before must be in 0..window-1 ({window - 1}), got {before}")
    acc = _Accumulator(sae.d_sae, n_contexts, window, before, model.device)
    special = torch.tensor(sorted(getattr(model.tokenizer, "all_special_ids", []) or [-1]), device=model.device)
    n = tokens.shape[0]
    for start in range(0, n, batch_size):
        batch = tokens[start : start + batch_size].to(model.device)
        with torch.no_grad():
            acts = sae.encode(hook_activation(model, batch, sae.hook))
        keep = ~torch.isin(batch, special)
        acc.add(batch, acts * keep.unsqueeze(-1), int(keep.sum()))
        if progress is not None:
            progress(min(start + batch_size, n), n)
    dash = acc.finish(n_bins, info or {})
    dash.logit_ids, dash.logit_values = top_logits(model, sae)
    return dash


def hook_activation(model: HookedModel, tokens: torch.Tensor, hook: str) -> torch.Tensor:
    """The activation at `hook` for token ids [batch, pos]; the forward pass stops after the hook's layer."""
    got: dict[str, torch.Tensor] = {}
    stop = threading.Event()

    def on_layer(_layer: int, tensors: dict[str, torch.Tensor]) -> None:
        if hook in tensors:
            got["x"] = tensors[hook]
            stop.set()  # the next block raises Cancelled: the layers after the hook are not computed

    with contextlib.suppress(Cancelled):
        model.run(tokens, stream=[hook], on_layer=on_layer, cancel=stop)
    return got["x"]


class _Accumulator:
    """Running counts, maxima, fine histograms and the best C windows per feature."""

    def __init__(self, d_sae: int, n_contexts: int, window: int, before: int, device: torch.device) -> None:
        self.f, self.c, self.w, self.before = d_sae, n_contexts, window, before
        self.n_tokens = 0
        self.fired = torch.zeros(d_sae, dtype=torch.long, device=device)
        self.max = torch.zeros(d_sae, device=device)
        self.fine = torch.zeros(d_sae * FINE_BINS, dtype=torch.long, device=device)
        self.best = torch.zeros(d_sae, n_contexts, device=device)
        self.ctx_values = torch.zeros(d_sae, n_contexts, window, device=device)
        self.ctx_tokens = torch.full((d_sae, n_contexts, window), -1, dtype=torch.long, device=device)

    def add(self, tokens: torch.Tensor, acts: torch.Tensor, n_tokens: int) -> None:
        """One batch: tokens [B, T], activations [B, T, F] (zero where left out)."""
        self.n_tokens += n_tokens
        fired = acts > 0
        self.fired += fired.sum((0, 1))
        self.max = torch.maximum(self.max, acts.amax((0, 1)))
        feats = fired.nonzero()[:, 2]
        bins = ((acts[fired].log10() - LOG_LO) / STEP).long().clamp(0, FINE_BINS - 1)
        self.fine += torch.bincount(feats * FINE_BINS + bins, minlength=self.f * FINE_BINS)
        row_max, pos = acts.max(dim=1)  # [B, F]: each row's best position per feature
        offsets = torch.arange(self.w, device=acts.device).view(1, -1, 1)
        idx = pos.unsqueeze(1) + offsets  # [B, W, F] window positions, in padded coordinates
        win_vals = F.pad(acts, (0, 0, self.before, self.w)).gather(1, idx)
        padded = F.pad(tokens, (self.before, self.w), value=-1)
        win_toks = padded.unsqueeze(-1).expand(-1, -1, self.f).gather(1, idx)
        top = torch.cat([self.best, row_max.T], dim=1).topk(self.c, dim=1)
        pick = top.indices.unsqueeze(-1).expand(-1, -1, self.w)
        self.ctx_values = torch.cat([self.ctx_values, win_vals.permute(2, 0, 1)], dim=1).gather(1, pick)
        self.ctx_tokens = torch.cat([self.ctx_tokens, win_toks.permute(2, 0, 1)], dim=1).gather(1, pick)
        self.best = top.values

    def finish(self, n_bins: int, info: dict[str, Any]) -> Dashboard:
        fine = self.fine.view(self.f, FINE_BINS)
        used = fine > 0
        any_used = used.any(1)
        lo = used.int().argmax(1)
        hi = FINE_BINS - 1 - used.flip(1).int().argmax(1)
        span = (hi - lo + 1).clamp(min=1)
        group = (span + n_bins - 1) // n_bins
        m = torch.where(any_used, (span + group - 1) // group, 0)
        cum = F.pad(fine.cumsum(1), (1, 0))
        j = torch.arange(n_bins + 1, device=fine.device)
        bounds = (lo.unsqueeze(1) + j.unsqueeze(0) * group.unsqueeze(1)).clamp(max=FINE_BINS)
        counts = cum.gather(1, bounds).diff(dim=1)
        first = 10 ** (LOG_LO + lo.double() * STEP)
        last = 10 ** (LOG_LO + (lo + m * group).double() * STEP)
        return Dashboard(
            n_tokens=self.n_tokens,
            density=(self.fired.double() / max(self.n_tokens, 1)).float().cpu(),
            max=self.max.cpu(),
            hist_counts=counts.int().cpu(),
            hist_range=torch.stack([first, last], 1).float().cpu(),
            hist_bins=m.int().cpu(),
            ctx_tokens=self.ctx_tokens.int().cpu(),
            ctx_values=self.ctx_values.cpu(),
            window=self.w,
            before=self.before,
            info=info,
        )
