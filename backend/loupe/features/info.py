"""What the protocol says about one feature: its dashboard data, logit effects and a short label."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from loupe.errors import LoupeError
from loupe.features.logits import token_rows, top_logits

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.features.dashboard import Dashboard
    from loupe.features.sae import SAE


def check_index(sae: SAE, index: int) -> None:
    if not 0 <= index < sae.d_sae:
        raise LoupeError("bad_message", f"feature index {index} out of range for SAE {sae.id!r}: 0..{sae.d_sae - 1}")


def feature_info(model: HookedModel, sae: SAE, dash: Dashboard | None, index: int, k: int = 10) -> dict[str, Any]:
    """density, max, histogram, promoted/suppressed tokens, contexts and label of feature `index`.

    Without a dashboard, density/max/histogram are None and contexts empty (the weights still give the rest)."""
    check_index(sae, index)
    promoted, suppressed = logit_effects(model, sae, dash, index, k)
    contexts = dash.contexts(index, model.decode_each) if dash is not None else []
    return {
        "density": float(dash.density[index]) if dash is not None else None,
        "max": float(dash.max[index]) if dash is not None else None,
        "histogram": dash.histogram(index) if dash is not None else None,
        "promoted": promoted,
        "suppressed": suppressed,
        "contexts": contexts,
        "label": _label(dash, index, contexts, promoted),
    }


def feature_label(model: HookedModel, sae: SAE, dash: Dashboard | None, index: int) -> str:
    """A short automatic label (or the dashboard's own label for this feature)."""
    if dash is not None and index in dash.labels:
        return dash.labels[index]
    contexts = dash.contexts(index, model.decode_each) if dash is not None else []
    promoted = logit_effects(model, sae, dash, index, 3)[0] if not contexts else []
    return _label(dash, index, contexts, promoted)


def logit_effects(
    model: HookedModel, sae: SAE, dash: Dashboard | None, index: int, k: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The feature's k most promoted and most suppressed tokens as [{token, logit}]: the dashboard's table when
    it holds k or more, else computed from the weights now."""
    stored = (dash.logit_ids, dash.logit_values) if dash is not None else (None, None)
    if stored[0] is not None and stored[1] is not None and stored[0].shape[2] >= k:
        ids, values = stored[0][index, :, :k], stored[1][index, :, :k]
    else:
        ids, values = (t[0] for t in top_logits(model, sae, [index], k))
    return token_rows(model, ids[0], values[0]), token_rows(model, ids[1], values[1])


def _label(dash: Dashboard | None, index: int, contexts: list[dict[str, Any]], promoted: list[dict[str, Any]]) -> str:
    """The commonest tokens at the contexts' maxima ("Paris, London"); without contexts "→ " + promoted tokens."""
    if dash is not None and index in dash.labels:
        return dash.labels[index]
    if contexts:
        at_max = Counter(_shown(c["tokens"][c["values"].index(c["max"])]) for c in contexts)
        return ", ".join(t for t, _ in at_max.most_common(3))
    return "→ " + ", ".join(_shown(p["token"]) for p in promoted[:3])


def _shown(token: str) -> str:
    return token.strip() or repr(token)
