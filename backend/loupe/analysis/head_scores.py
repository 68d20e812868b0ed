"""Score every head for a known attention behaviour on repeated random token sequences."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import torch

from loupe.analysis.record import Record
from loupe.errors import LoupeError

if TYPE_CHECKING:
    from loupe.engine.view import ModelView

Kind = Literal["induction", "previous_token", "duplicate_token"]
KINDS: tuple[Kind, ...] = ("induction", "previous_token", "duplicate_token")


@dataclass
class HeadScores(Record):
    """Mean attention [n_layers, n_heads] to the position that `kind` predicts, on `batch` random sequences."""

    kind: str
    scores: torch.Tensor
    seq_len: int
    batch: int
    seed: int

    def top(self, n: int = 10) -> list[tuple[str, float]]:
        """The `n` highest-scoring heads as ("L5H1", score)."""
        n_heads = self.scores.shape[1]
        flat = self.scores.flatten()
        order = flat.argsort(descending=True)[:n].tolist()
        return [(f"L{i // n_heads}H{i % n_heads}", float(flat[i])) for i in order]


def repeated_tokens(model: ModelView, seq_len: int, batch: int, seed: int, prefix: int | None) -> torch.Tensor:
    """[batch, (prefix) + 2 * seq_len] random tokens, the second half repeating the first."""
    special = set(getattr(model.tokenizer, "all_special_ids", None) or ())
    gen = torch.Generator().manual_seed(seed)
    low = 1 + max(special) if special and max(special) < 1000 else 0  # skip the low block of special tokens
    half = torch.randint(low, model.cfg.d_vocab, (batch, seq_len), generator=gen)
    parts = [half, half]
    if prefix is not None:
        parts.insert(0, torch.full((batch, 1), prefix, dtype=torch.long))
    return torch.cat(parts, dim=1)


def score_pattern(pattern: torch.Tensor, kind: str, seq_len: int, offset: int) -> torch.Tensor:
    """Per-head scores [head] of one layer's pattern [batch, head, q, k] on `offset` + 2 x `seq_len` tokens.

    induction: from each token of the second copy to the token after its first occurrence (q - seq_len + 1);
    duplicate_token: to its first occurrence (q - seq_len); previous_token: every token (after the prefix)
    to the one before it (q - 1).
    """
    if kind not in KINDS:
        raise LoupeError("bad_input", f"head score kind must be one of {list(KINDS)}, got {kind!r}")
    if kind == "previous_token":
        queries = torch.arange(offset + 1, offset + 2 * seq_len)
        keys = queries - 1
    else:
        queries = torch.arange(offset + seq_len, offset + 2 * seq_len)
        keys = queries - seq_len + (1 if kind == "induction" else 0)
    return pattern[:, :, queries, keys].float().mean(dim=(0, 2))


def head_scores(
    model: ModelView,
    kind: Kind = "induction",
    seq_len: int = 50,
    batch: int = 4,
    seed: int = 0,
    prefix: int | None = -1,
    on_row: Callable[[int, torch.Tensor], None] | None = None,
) -> HeadScores:
    """Score all heads on `batch` sequences of `seq_len` random tokens repeated twice (seeded, reproducible).

    `prefix` is a token put in front of every sequence (-1 = the tokenizer's BOS token if it has one;
    None = no prefix): many models park attention on the first token, so without one scores drop.
    `on_row(layer, scores [n_heads])` is called as each layer finishes.
    """
    if kind not in KINDS:
        raise LoupeError("bad_input", f"head score kind must be one of {list(KINDS)}, got {kind!r}")
    row = None if on_row is None else (lambda layer, scores: on_row(layer, scores[kind]))
    return all_head_scores(model, (kind,), seq_len, batch, seed, prefix, row)[kind]


def all_head_scores(
    model: ModelView,
    kinds: Sequence[Kind] = KINDS,
    seq_len: int = 50,
    batch: int = 4,
    seed: int = 0,
    prefix: int | None = -1,
    on_row: Callable[[int, dict[str, torch.Tensor]], None] | None = None,
) -> dict[str, HeadScores]:
    """`head_scores` of several kinds from one run (the patterns are streamed layer by layer, not kept);
    `on_row(layer, {kind: scores [n_heads]})` is called as each layer finishes."""
    for kind in kinds:
        if kind not in KINDS:
            raise LoupeError("bad_input", f"head score kind must be one of {list(KINDS)}, got {kind!r}")
    if prefix == -1:
        prefix = getattr(model.tokenizer, "bos_token_id", None)
    offset = int(prefix is not None)
    if offset + 2 * seq_len > model.cfg.n_ctx or seq_len < 2:
        raise LoupeError("bad_input", f"seq_len must be in 2..{(model.cfg.n_ctx - offset) // 2}, got {seq_len}")
    tokens = repeated_tokens(model, seq_len, batch, seed, prefix).to(model.device)
    scores = {kind: torch.zeros(model.cfg.n_layers, model.cfg.n_heads) for kind in kinds}

    def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
        pattern = tensors[f"blocks.{layer}.attn.hook_pattern"]
        for kind in kinds:
            scores[kind][layer] = score_pattern(pattern, kind, seq_len, offset).cpu()
        if on_row is not None:
            on_row(layer, {kind: s[layer].clone() for kind, s in scores.items()})

    model.run(tokens, stream="blocks.*.attn.hook_pattern", on_layer=on_layer)
    return {kind: HeadScores(kind, s, seq_len, batch, seed) for kind, s in scores.items()}
