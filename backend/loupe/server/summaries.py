"""Per-layer summaries that keep the default view's bytes linear in prompt length.

resid_norm: L2 norm of the residual stream per position; lens: the logit lens (the shared
`LensDecoder`: exact top-1 per position and top-5 at the last position);
attn: every head's pattern max-pooled to at most THUMB x THUMB.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from loupe.analysis.lens_decoder import Decoded, LensDecoder

THUMB = 64
PARTS = ("resid_norm", "lens", "attn")


def needed_hooks(layers: int, parts: tuple[str, ...]) -> list[str]:
    """The hook points a run must capture to compute `parts` for every layer."""
    names = []
    for layer in range(layers):
        if "resid_norm" in parts or "lens" in parts:
            names.append(f"blocks.{layer}.hook_resid_post")
        if "attn" in parts:
            names.append(f"blocks.{layer}.attn.hook_pattern")
    return names


def resid_norm(resid: torch.Tensor) -> torch.Tensor:
    """[pos, d_model] -> [pos]."""
    norms: torch.Tensor = resid.float().norm(dim=-1)
    return norms


def thumbnails(pattern: torch.Tensor, size: int = THUMB) -> torch.Tensor:
    """[head, q, k] -> [head, P, P] with P = min(pos, size); bin i spans floor(i*T/P)..ceil((i+1)*T/P)-1."""
    p = min(pattern.shape[-1], size)
    if p == pattern.shape[-1]:
        return pattern
    return F.adaptive_max_pool2d(pattern.float(), (p, p))


def lens_summary(decoder: LensDecoder, resid: torch.Tensor) -> dict[str, Any]:
    """[pos, d_model] -> exact top-1 id/prob/string per position and top-5 at the last position."""
    top, last = decoder.decode_with_last(resid, k=1, last_k=5)
    return _lens_parts(decoder, top, last, 0)


def _lens_parts(decoder: LensDecoder, top: Decoded, last: Decoded, row: int) -> dict[str, Any]:
    top1 = top.ids[:, 0]
    return {
        "top1": top1.to(torch.int32),
        "prob": top.probs[:, 0],
        "top1_str": decoder.strings(top1.tolist()),
        "top5": last.ids[row].to(torch.int32),
        "top5_prob": last.probs[row],
        "top5_str": decoder.strings(last.ids[row].tolist()),
    }


class LensSlot:
    """Where `BatchLens` leaves one row's lens summaries, by layer, until the row's `on_layer` takes them."""

    def __init__(self) -> None:
        self.ready: dict[int, dict[str, Any]] = {}
        self.filled = 0  # layers `BatchLens` decoded for this row

    def put(self, layer: int, summary: dict[str, Any]) -> None:
        self.ready[layer] = summary
        self.filled += 1

    def take(self, layer: int) -> dict[str, Any] | None:
        return self.ready.pop(layer, None)


class BatchLens:
    """A scheduler layer hook: the lens of every row of a group of batched layers in one product (the
    unembedding is read once per group, not once per row and layer), left in each row's `LensSlot`."""

    def __init__(self, decoder: LensDecoder) -> None:
        self.decoder = decoder

    def __call__(self, layers: list[tuple[int, list[tuple[object, dict[str, torch.Tensor]]]]]) -> None:
        wanted = [
            (layer, tag, t[name][0])
            for layer, rows in layers
            for tag, t in rows
            if isinstance(tag, LensSlot) and (name := f"blocks.{layer}.hook_resid_post") in t
        ]
        if not wanted:
            return
        resids = [r for _, _, r in wanted]
        ends = torch.tensor([r.shape[0] for r in resids]).cumsum(0)
        top, last = self.decoder.decode_with_rows(torch.cat(resids), (ends - 1).tolist(), k=1, rows_k=5)
        top, last = _on_cpu(top), _on_cpu(last)  # one copy from the device for the whole group
        start = 0
        for i, (layer, slot, resid) in enumerate(wanted):
            n = resid.shape[0]
            mine = Decoded(
                top.ids[start : start + n], top.logits[start : start + n], top.probs[start : start + n], None, 0
            )
            assert isinstance(slot, LensSlot)
            slot.put(layer, _lens_parts(self.decoder, mine, last, i))
            start += n


def _on_cpu(d: Decoded) -> Decoded:
    return Decoded(d.ids.cpu(), d.logits.cpu(), d.probs.cpu(), d.target_prob, d.exact_rows)


def layer_summary(
    lens: LensDecoder | None,
    parts: tuple[str, ...],
    tensors: dict[str, torch.Tensor],
    layer: int,
    slot: LensSlot | None = None,
) -> dict[str, Any]:
    """The `summary` map of one run.layer frame, from row 0 of that layer's captured tensors (the lens from
    `slot` when `BatchLens` already decoded it with the rest of the batch)."""
    out: dict[str, Any] = {}
    resid = tensors.get(f"blocks.{layer}.hook_resid_post")
    if resid is not None and "resid_norm" in parts:
        out["resid_norm"] = resid_norm(resid[0])
    if resid is not None and lens is not None:
        ready = slot.take(layer) if slot is not None else None
        out["lens"] = ready if ready is not None else lens_summary(lens, resid[0])
    pattern = tensors.get(f"blocks.{layer}.attn.hook_pattern")
    if pattern is not None and "attn" in parts:
        out["attn"] = thumbnails(pattern[0])
    return out
