"""The logit lens: decode every residual point with the model's own final norm and unembedding."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from loupe.analysis.lens_decoder import lens_decoder
from loupe.analysis.record import Record
from loupe.analysis.weights import single_prompt, token_id
from loupe.engine.layer_groups import LayerGroups

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.engine.view import ModelView


@dataclass
class LensRow(Record):
    """One residual point decoded at every position: top-k ids and probabilities [pos, k]."""

    index: int
    label: str  # "embed" (input of block 0) or "L{l}" (output of block l)
    tokens: torch.Tensor
    probs: torch.Tensor
    target_prob: torch.Tensor | None  # [pos] probability of `target`, when given


@dataclass
class LogitLens:
    """Rows from the embedding to the last block; `top_str[row][pos]` are the decoded top-k tokens."""

    str_tokens: list[str]
    rows: list[LensRow]
    top_str: list[list[list[str]]]
    target: int | None

    @property
    def tokens(self) -> torch.Tensor:
        """[n_layers + 1, pos, k] top token ids."""
        return torch.stack([r.tokens for r in self.rows])

    @property
    def probs(self) -> torch.Tensor:
        """[n_layers + 1, pos, k] their probabilities."""
        return torch.stack([r.probs for r in self.rows])

    @property
    def target_probs(self) -> torch.Tensor | None:
        """[n_layers + 1, pos] probability of `target`, when given."""
        probs = [r.target_prob for r in self.rows if r.target_prob is not None]
        return torch.stack(probs) if probs else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "str_tokens": self.str_tokens,
            "labels": [r.label for r in self.rows],
            "tokens": self.tokens,
            "probs": self.probs,
            "top_str": self.top_str,
            "target": self.target,
            "target_prob": self.target_probs,
        }


def decode_resid(model: ModelView, resid: torch.Tensor) -> torch.Tensor:
    """Logits [..., d_vocab] of residual vectors [..., d_model]: final norm module, then the unembedding.

    Skips the modules' hooks, so a run's captures and interventions on `ln_final`/`logits` never see the
    lens's own decoding.
    """
    return lens_decoder(model).logits(resid)


def logit_lens(
    model: ModelView,
    inputs: Inputs,
    k: int = 5,
    target: int | str | None = None,
    on_row: Callable[[LensRow], None] | None = None,
) -> LogitLens:
    """Top-k next tokens per layer x position for one prompt; `on_row` gets each row, in order, as its group
    of layers finishes (groups of 1, 2, 4, 8, ... rows, each decoded in one product: engine/layer_groups.py).

    Decoded by the shared `LensDecoder`: the top-k ids are exact, probabilities within ~0.005.
    """
    target_id = token_id(model, target) if target is not None else None
    decoder = lens_decoder(model)
    rows: list[LensRow] = []
    n = model.cfg.n_layers
    groups: LayerGroups[torch.Tensor] = LayerGroups(n + 1)  # rows decoded a group at a time (one product each)

    def add(resid: torch.Tensor) -> None:
        group = groups.add(len(rows) + len(groups.pending), resid[0])
        if not group:
            return
        out = decoder.decode(torch.cat([r for _, r in group]), k, target_id)
        start = 0
        for index, r in group:
            end = start + r.shape[0]
            tp = out.target_prob[start:end] if out.target_prob is not None else None
            label = "embed" if index == 0 else f"L{index - 1}"
            row = LensRow(index, label, out.ids[start:end], out.probs[start:end], tp)
            rows.append(row)
            start = end
            if on_row is not None:
                on_row(row)

    def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
        if layer == 0:
            add(tensors["blocks.0.hook_resid_pre"])
        add(tensors[f"blocks.{layer}.hook_resid_post"])

    capture = ["blocks.0.hook_resid_pre", *(f"blocks.{layer}.hook_resid_post" for layer in range(n))]
    res = model.run(single_prompt(model, inputs), capture=capture, on_layer=on_layer)
    top_str = [[decoder.strings(pos.tolist()) for pos in row.tokens] for row in rows] if model.tokenizer else []
    return LogitLens(res.str_tokens[0] if res.str_tokens else [], rows, top_str, target_id)
