"""One logit-lens decoder: final norm and unembedding of residual vectors, reduced to exact top-k tokens.

Shared by `loupe.analysis.logit_lens` and the server's per-layer summaries. Where a bfloat16 product is
faster than the float32 one (checked once, by timing, on CPU), every vocabulary logit is first computed in
bfloat16; a rounding-error bound then proves which tokens can still be in the top k, those candidates are
re-scored exactly (float64 dot products), and any row whose proof fails is decoded with the float32
product instead. Top-k ids are therefore exact; probabilities use the exact logits of the candidates and
the bfloat16 logits of the other tokens in the softmax denominator: on SmolLM2 (every layer of the IOI
prompt and 20 random prompts) within 0.005 absolute, 1e-3 at the 99th percentile. `fast=False` decodes
with the float32 product throughout.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from loupe.analysis.block_topk import block_topk
from loupe.engine.token_strings import TokenStrings

if TYPE_CHECKING:
    from loupe.engine.view import ModelView

BF16_UNIT = 2.0**-8  # unit roundoff of bfloat16 (8 significant bits, round to nearest)
F32_UNIT = 2.0**-24


@dataclass
class Decoded:
    """Top-k of each decoded row, best first: ids, exact logits and probabilities, all [rows, k]."""

    ids: torch.Tensor
    logits: torch.Tensor
    probs: torch.Tensor
    target_prob: torch.Tensor | None  # [rows] probability of the requested target token
    exact_rows: int  # rows decoded with the full float32 product (the bound could not decide them)


class LensDecoder:
    """Decodes residual vectors [..., d_model] through `model`'s final norm and unembedding, firing no hook."""

    MARGIN = 15  # candidates re-scored beyond the k asked for (at k = 1 the bound settles all but ~0.05% of rows)
    CHUNK = 128  # rows re-scored at a time (the gathered float64 weights: 128 x 16 x 576 x 8 B = 9 MB)
    ROWS = 1024  # rows decoded per product (bounds the [rows, d_vocab] logits; bigger products run faster per row)

    def __init__(self, model: ModelView, fast: bool | None = None) -> None:
        self.tokenizer = model.tokenizer  # no reference to `model`: see `lens_decoder`
        self.norm: nn.Module = model.adapter.module(model.hf, "final_norm")
        head = model.hf.get_output_embeddings()
        assert head is not None
        self.head: nn.Module = head
        self.weight: torch.Tensor = head.weight.detach()
        self.fast: torch.Tensor | None = None
        if fast is None:
            fast = self.weight.device.type == "cpu" and self.weight.dtype == torch.float32 and _bf16_pays(self.weight)
        if fast and getattr(head, "bias", None) is None:  # a biased head takes the exact path
            self.fast = self.weight.to(torch.bfloat16)
            d = self.weight.shape[1]
            self._gamma = d * F32_UNIT / (1 - d * F32_UNIT)  # float32 accumulation over d products
            # max_i |w_i|, max_i |w_i - wb_i| and max_i |wb_i| (wb: the bf16 rounding), for `error_bound`
            self._w_max, self._dw_max, self._wb_max = _max_row_norms(self.weight, self.fast)
        self.rows = self.ROWS
        self.strings = TokenStrings(self.tokenizer)  # decoded text of token ids, cached per id

    def normed(self, resid: torch.Tensor) -> torch.Tensor:
        """The final norm of `resid` [..., d_model], as the model computes it (no hooks)."""
        with torch.no_grad():
            normed: torch.Tensor = self.norm.forward(resid.to(self.weight.dtype))
            return normed

    def logits(self, resid: torch.Tensor) -> torch.Tensor:
        """The full float32 lens logits [..., d_vocab] of `resid` [..., d_model]."""
        with torch.no_grad():
            logits: torch.Tensor = self.head.forward(self.normed(resid))
            return logits.float()

    def decode(self, resid: torch.Tensor, k: int = 1, target: int | None = None, normed: bool = False) -> Decoded:
        """Exact top-k (k <= d_vocab) of every row of `resid` [..., d_model] (already normed: `normed`), as rows."""
        with torch.no_grad():
            x = (resid if normed else self.normed(resid)).reshape(-1, self.weight.shape[1])
            k = min(k, self.weight.shape[0])
            exact = self.fast is None or k >= self.weight.shape[0] or x.shape[0] == 0
            parts = [
                (self._exact if exact else self._bounded)(x[i : i + self.rows], k, target)
                for i in range(0, max(x.shape[0], 1), self.rows)
            ]
        return _cat(parts)

    def decode_with_last(self, resid: torch.Tensor, k: int = 1, last_k: int = 5) -> tuple[Decoded, Decoded]:
        """`decode(resid, k)` and the top `last_k` of its last row, from one vocabulary-wide product."""
        n = resid.reshape(-1, resid.shape[-1]).shape[0]
        return self.decode_with_rows(resid, [n - 1] if n else [], k, last_k)

    def decode_with_rows(
        self, resid: torch.Tensor, rows: list[int], k: int = 1, rows_k: int = 5
    ) -> tuple[Decoded, Decoded]:
        """`decode(resid, k)` and the top `rows_k` of the rows `rows` of it, from the same vocabulary-wide
        products (the unembedding is read once per `self.rows` rows, not once more for the extra rows)."""
        with torch.no_grad():
            x = self.normed(resid).reshape(-1, self.weight.shape[1])
            if x.shape[0] == 0 or max(k, rows_k) >= self.weight.shape[0]:
                return self.decode(x, k, None, normed=True), self.decode(x[rows], rows_k, None, normed=True)
            parts, extras, order = [], [], []
            for start in range(0, x.shape[0], self.rows):
                xi = x[start : start + self.rows]
                at = [j for j, r in enumerate(rows) if start <= r < start + xi.shape[0]]
                mine = [rows[j] - start for j in at]
                if self.fast is None:  # one float32 product and one top-k serve both (on a GPU: half the launches)
                    both = self._exact(xi, max(k, rows_k), None)
                    parts.append(_first(both, k))
                    extras.append(_first(_rows(both, mine), rows_k))
                else:
                    approx = xi.to(torch.bfloat16) @ self.fast.T
                    if mine:  # (indexing copies: `_select` consumes approx)
                        extras.append(self._select(xi[mine], approx[mine], rows_k, None))
                    parts.append(self._select(xi, approx, k, None))
                order += at
            extra = _cat(extras) if extras else self.decode(x[:0], rows_k, None, normed=True)
            back = torch.tensor(order, dtype=torch.long).argsort()  # chunk order -> the order of `rows`
            return _cat(parts), _rows(extra, back.tolist())

    def _exact(self, x: torch.Tensor, k: int, target: int | None) -> Decoded:
        logits = self.head.forward(x).float()
        lse = logits.logsumexp(-1, keepdim=True)
        top = logits.topk(k, dim=-1)
        target_prob = (logits[:, target : target + 1] - lse).exp()[:, 0] if target is not None else None
        probs = (top.values - lse).exp()
        return Decoded(top.indices, top.values, probs, target_prob, x.shape[0])

    def _bounded(self, x: torch.Tensor, k: int, target: int | None) -> Decoded:
        assert self.fast is not None
        return self._select(x, x.to(torch.bfloat16) @ self.fast.T, k, target)

    def _select(self, x: torch.Tensor, approx: torch.Tensor, k: int, target: int | None) -> Decoded:
        """Top-k of normed rows `x` from their bf16 logits `approx` [rows, vocab] (consumed): proven or redone."""
        n_cand = min(k + self.MARGIN, self.weight.shape[0] - 1)
        top_values, top_ids = block_topk(approx, n_cand + 1)
        cand = top_ids[:, :n_cand]
        exact = self._rescore(x, cand)  # [rows, n_cand] float64
        # a token outside the candidates has a bf16 logit <= edge, so its exact logit is at most edge plus the
        # output rounding plus the input rounding and accumulation error (<= factor * |x|); it cannot reach
        # the top k when that is below the k-th best exact score
        edge = top_values[:, n_cand].double()
        best = exact.topk(k, dim=-1)
        proven = edge + self.error_bound(x, edge[:, None])[:, 0] < best.values[:, k - 1]
        ids = cand.gather(1, best.indices)
        lse = _logsumexp(approx, cand, exact)
        probs = (best.values - lse[:, None]).exp()
        target_prob = None
        if target is not None:
            t_logit = self._rescore(x, torch.full_like(cand[:, :1], target))[:, 0]
            target_prob = (t_logit - lse).exp()
        out = Decoded(ids, best.values.float(), probs.float(), _f32(target_prob), 0)
        if not bool(proven.all()):
            self._patch(out, x, ~proven, k, target)
        return out

    def error_bound(self, x: torch.Tensor, approx: torch.Tensor) -> torch.Tensor:
        """Bound on |bf16 logit - exact logit| for normed rows `x` [rows, d] and bf16 logits `approx` [rows, n].

        With xb, wb the bfloat16 roundings, x.w - xb.wb = (x - xb).w + xb.(w - wb) exactly, so by Cauchy-Schwarz
        the inputs' rounding errs by at most |x - xb| max_i |w_i| + |xb| max_i |w_i - wb_i| (the actual rounding
        of this x: ~0.4x the a-priori 2u |x| |w|); accumulating the exact bf16 products in float32 adds
        gamma_d |xb| max_i |wb_i|, and the bf16 output u |logit| / (1-u).
        """
        assert self.fast is not None
        xd = x.double()
        xb = x.to(torch.bfloat16).double()
        dx, xb_norm = (xd - xb).norm(dim=-1), xb.norm(dim=-1)
        inputs = dx * self._w_max + xb_norm * (self._dw_max + self._gamma * self._wb_max)
        rounding = approx.double().abs() * (BF16_UNIT / (1 - BF16_UNIT))
        out: torch.Tensor = rounding + inputs[:, None]
        return out * (1 + 1e-6)  # headroom for the rounding of this computation itself

    def _rescore(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        """Exact logits [rows, n] of token ids [rows, n], in float64."""
        parts = [
            torch.einsum("rd,rnd->rn", x[i : i + self.CHUNK].double(), self.weight[ids[i : i + self.CHUNK]].double())
            for i in range(0, x.shape[0], self.CHUNK)
        ]
        return torch.cat(parts)

    def _patch(self, out: Decoded, x: torch.Tensor, rows: torch.Tensor, k: int, target: int | None) -> None:
        """Re-decode the rows the bound could not settle with the full float32 product."""
        fix = self._exact(x[rows], k, target)
        out.ids[rows], out.logits[rows], out.probs[rows] = fix.ids, fix.logits, fix.probs
        if out.target_prob is not None and fix.target_prob is not None:
            out.target_prob[rows] = fix.target_prob
        out.exact_rows = int(rows.sum())


_DECODERS: weakref.WeakKeyDictionary[nn.Module, LensDecoder] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def lens_decoder(model: ModelView) -> LensDecoder:
    """The model's one shared decoder, made on first use (it times the bf16 product and keeps a bf16 copy).

    Keyed by the weights (`model.hf`), not by `model`: a wrapper such as the server's per-job `SessionModel`
    gets the same decoder instead of a new one (and 54 MB bf16 copy) each time, and as the decoder holds
    no reference to its key, it goes when the weights go."""
    with _LOCK:
        decoder = _DECODERS.get(model.hf)
        if decoder is None:
            decoder = _DECODERS[model.hf] = LensDecoder(model)
        return decoder


def _logsumexp(approx: torch.Tensor, cand: torch.Tensor, exact: torch.Tensor) -> torch.Tensor:
    """Per-row log-sum-exp [rows] with the candidates' exact logits and the bf16 logits of the rest (consumed)."""
    flat = (torch.arange(approx.shape[0])[:, None] * approx.shape[1] + cand).reshape(-1)
    approx.view(-1).index_fill_(0, flat, float("-inf"))  # (scatter_ on bf16 is ~500x slower on CPU)
    peak = exact.max(dim=-1, keepdim=True).values
    if float(peak.max()) < 60:  # exp of the bf16 logits cannot overflow the float32 sum: no shift, no rounding
        rest = _exp_sums(approx, None).double()
        return (rest + exact.exp().sum(-1)).log()
    rest = _exp_sums(approx, peak.float()).double()
    return peak[:, 0] + (rest + (exact - peak).exp().sum(-1)).log()


def _exp_sums(approx: torch.Tensor, shift: torch.Tensor | None, rows: int = 32) -> torch.Tensor:
    """Per-row float32 sums of exp(approx - shift) (consumed), `rows` rows at a time: the float32 temporaries
    stay a few MB, reused from the heap, where one of [512, 49152] (100 MB) is a fresh mapping in the server
    (`SERVER_MMAP_BYTES`) whose page faults cost 6x the arithmetic (54 vs 8 ms for 512 rows)."""
    out = torch.empty(approx.shape[0], dtype=torch.float32)
    for i in range(0, approx.shape[0], rows):
        part = approx[i : i + rows]
        if shift is None:
            out[i : i + rows] = part.exp_().sum(-1, dtype=torch.float32)
        else:
            out[i : i + rows] = (part.float() - shift[i : i + rows]).exp_().sum(-1)
    return out


def _max_row_norms(weight: torch.Tensor, fast: torch.Tensor, rows: int = 4096) -> tuple[float, float, float]:
    """(max |w_i|, max |w_i - wb_i|, max |wb_i|) over the rows of `weight` and its bf16 copy `fast`, in float64."""
    top = torch.zeros(3, dtype=torch.float64)
    for i in range(0, weight.shape[0], rows):
        w, wb = weight[i : i + rows].double(), fast[i : i + rows].double()
        norms = torch.stack([w.norm(dim=-1).max(), (w - wb).norm(dim=-1).max(), wb.norm(dim=-1).max()])
        top = torch.maximum(top, norms)
    w_max, dw_max, wb_max = top.tolist()
    return w_max, dw_max, wb_max


def _cat(parts: list[Decoded]) -> Decoded:
    """The rows of `parts`, one after another."""
    if len(parts) == 1:
        return parts[0]
    tp = [p.target_prob for p in parts if p.target_prob is not None]
    return Decoded(
        torch.cat([p.ids for p in parts]),
        torch.cat([p.logits for p in parts]),
        torch.cat([p.probs for p in parts]),
        torch.cat(tp) if len(tp) == len(parts) else None,
        sum(p.exact_rows for p in parts),
    )


def _first(d: Decoded, k: int) -> Decoded:
    """The best `k` of each row of `d` (its top-k columns are best first)."""
    return Decoded(d.ids[:, :k], d.logits[:, :k], d.probs[:, :k], d.target_prob, d.exact_rows)


def _rows(d: Decoded, rows: list[int]) -> Decoded:
    """Rows `rows` of `d`."""
    tp = None if d.target_prob is None else d.target_prob[rows]
    return Decoded(d.ids[rows], d.logits[rows], d.probs[rows], tp, min(d.exact_rows, len(rows)))


def _f32(t: torch.Tensor | None) -> torch.Tensor | None:
    return None if t is None else t.float()


def _bf16_pays(weight: torch.Tensor) -> bool:
    """True when a bfloat16 product with `weight` takes under 0.7x the float32 one on this machine."""
    fast = weight.detach().to(torch.bfloat16)
    x = torch.randn(32, weight.shape[1])
    with torch.no_grad():
        return _seconds(lambda: x.to(torch.bfloat16) @ fast.T) < 0.7 * _seconds(lambda: x @ weight.detach().T)


def _seconds(fn: Callable[[], object], repeats: int = 3) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return time.perf_counter() - start
