"""What the protocol says about one feature: its dashboard data, logit effects and a short label."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from loupe.errors import LoupeError
from loupe.features.logits import feature_logits, top_tokens

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
    promoted, suppressed = top_tokens(model, feature_logits(model, sae, index), k)
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
    promoted = top_tokens(model, feature_logits(model, sae, index), 3)[0] if not contexts else []
    return _label(dash, index, contexts, promoted)


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
