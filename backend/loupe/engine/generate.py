"""KV-cached generation with interventions applied and optional capture at every step."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
from transformers import DynamicCache

from loupe.engine.plan import InterventionsIn, RunPlan, plan
from loupe.errors import LoupeError
from loupe.hooks.apply import Where

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


@dataclass
class GenStep:
    """One generated token per batch row; `cache` holds this step's captures (the prompt's at step 0)."""

    index: int
    tokens: list[int]
    texts: list[str]
    probs: list[float]
    cache: dict[str, torch.Tensor] = field(default_factory=dict)
    finished: list[bool] = field(default_factory=list)

    @property
    def token(self) -> int:
        return self.tokens[0]

    @property
    def text(self) -> str:
        return self.texts[0]

    @property
    def prob(self) -> float:
        return self.probs[0]


def generate(
    model: HookedModel,
    prompt: str | Sequence[str],
    max_new_tokens: int = 32,
    temperature: float = 0.0,
    seed: int | None = None,
    top_p: float | None = None,
    interventions: InterventionsIn = None,
    capture: Sequence[str] | str = (),
    vectors: Mapping[str, Any] | None = None,
    sources: Mapping[str, Any] | None = None,
    cancel: threading.Event | None = None,
    stop_at_eos: bool = True,
) -> Iterator[GenStep]:
    """Yield one `GenStep` per new token (greedy when temperature is 0); prompts are left-padded."""
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise LoupeError("bad_input", f"max_new_tokens must be a positive integer, got {max_new_tokens!r}")
    if temperature < 0 or (top_p is not None and not 0 < top_p <= 1):
        raise LoupeError("bad_input", "temperature must be >= 0 and top_p in (0, 1]")
    tokens, mask = model.encode(prompt, padding_side="left")
    length = tokens.shape[1]
    if length + max_new_tokens > model.cfg.n_ctx:
        raise LoupeError(
            "too_long", f"{length} prompt tokens + {max_new_tokens} new exceed the model's context of {model.cfg.n_ctx}"
        )
    todo = plan(model, length, capture, interventions, sources, vectors)
    return _steps(model, tokens, mask, todo, max_new_tokens, temperature, seed, top_p, cancel, stop_at_eos)


def _steps(
    model: HookedModel,
    tokens: torch.Tensor,
    mask: torch.Tensor,
    todo: RunPlan,
    max_new_tokens: int,
    temperature: float,
    seed: int | None,
    top_p: float | None,
    cancel: threading.Event | None,
    stop_at_eos: bool,
) -> Iterator[GenStep]:
    batch, length = tokens.shape
    gen = torch.Generator(device=tokens.device).manual_seed(seed) if seed is not None else None
    eos = model.tokenizer.eos_token_id if model.tokenizer is not None else None
    ctx = todo.context(model, Where(0, length, batch), cancel=cancel)
    past = DynamicCache()
    position_ids = (mask.cumsum(-1) - 1).clamp(min=0)
    finished = torch.zeros(batch, dtype=torch.bool, device=tokens.device)
    inputs = tokens
    with torch.no_grad():
        for index in range(max_new_tokens):
            ctx.check_cancel()
            ctx.cache = {}
            logits = model.forward(ctx, inputs, mask, position_ids, past)[:, -1].float()
            probs = torch.softmax(logits, dim=-1)
            nxt = _pick(logits, probs, temperature, top_p, gen)
            if eos is not None:
                finished = finished | (nxt == eos)
            ids = nxt.tolist()
            yield GenStep(
                index,
                ids,
                model.decode_each(ids) if model.tokenizer is not None else [],
                probs.gather(1, nxt[:, None]).squeeze(1).tolist(),
                ctx.cache,
                finished.tolist(),
            )
            if stop_at_eos and bool(finished.all()):
                return
            ctx.where = Where(length + index, length, batch)
            inputs = nxt[:, None]
            mask = torch.cat([mask, mask.new_ones(batch, 1)], dim=1)
            position_ids = position_ids[:, -1:] + 1


def _pick(
    logits: torch.Tensor, probs: torch.Tensor, temperature: float, top_p: float | None, gen: torch.Generator | None
) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    p = torch.softmax(logits / temperature, dim=-1)
    if top_p is not None and top_p < 1:
        sorted_p, order = p.sort(dim=-1, descending=True)
        keep = sorted_p.cumsum(-1) - sorted_p < top_p
        sorted_p = sorted_p * keep
        p = torch.zeros_like(p).scatter(-1, order, sorted_p)
    return torch.multinomial(p, 1, generator=gen).squeeze(1)
