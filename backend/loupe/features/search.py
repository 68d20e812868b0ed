"""Finding features: by the token a feature promotes, by text in its top contexts, by activity on chosen
positions of a prompt, and by contrast between two sets of prompts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from loupe.analysis.weights import token_id
from loupe.errors import LoupeError
from loupe.features.logits import token_scores

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.features.dashboard import Dashboard
    from loupe.features.sae import SAE

Hits = list[tuple[int, float]]  # (feature index, score), best first


def by_token(model: HookedModel, sae: SAE, token: str, k: int) -> Hits:
    """Features whose decoder direction most raises the logit of `token` (which must be one token)."""
    return _top(token_scores(model, sae, token_id(model, token, "features.search.query")), k)


def by_text(model: HookedModel, dash: Dashboard | None, sae: SAE, text: str, k: int) -> Hits:
    """Features with a top context containing `text` (case-insensitive); score = that context's best activation."""
    if dash is None:
        raise LoupeError("not_found", f"SAE {sae.id!r} has no dashboard data, so there are no contexts to search")
    needle = text.lower()
    best = torch.zeros(sae.d_sae)
    ctx_max = dash.ctx_values.amax(-1)
    for f, texts in enumerate(dash.context_texts(model.decode_each)):
        hits = [c for c, t in enumerate(texts) if needle in t]
        if hits:
            best[f] = float(ctx_max[f, hits].max())
    return [(i, s) for i, s in _top(best, k) if s > 0]


def by_span(model: HookedModel, sae: SAE, tokens: torch.Tensor, positions: list[int], k: int, **run: Any) -> Hits:
    """Features most active in total on `positions` of the prompt `tokens` [1, pos] (run with `run` kwargs)."""
    n = tokens.shape[1]
    bad = [p for p in positions if not -n <= p < n]
    if bad or not positions:
        raise LoupeError("bad_message", f"features.search.positions: expected 1+ positions in -{n}..{n - 1}, got {bad}")
    acts = model.run(tokens, features=[sae], **run).features[sae.id].dense()[0]
    return _top(acts[[p % n for p in positions]].sum(0), k)


def contrast(
    model: HookedModel, sae: SAE, a: list[str], b: list[str], k: int, **run: Any
) -> list[tuple[int, float, float, float]]:
    """(index, mean_a − mean_b, mean_a, mean_b) of the features most more active on prompts `a` than on `b`;
    a prompt's activation is the feature's maximum over its tokens."""
    means = []
    for prompts in (a, b):
        res = model.run(prompts, features=[sae], **run)
        acts = res.features[sae.id].dense() * res.attention_mask.unsqueeze(-1)
        means.append(acts.amax(1).mean(0))
    diff = means[0] - means[1]
    return [(i, s, float(means[0][i]), float(means[1][i])) for i, s in _top(diff, k)]


def _top(scores: torch.Tensor, k: int) -> Hits:
    top = scores.float().topk(min(k, scores.shape[0]))
    return list(zip(top.indices.tolist(), top.values.tolist(), strict=True))
