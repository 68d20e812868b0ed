"""Complete checks of interventions and vectors when a client adds them, against the session's model.

Everything that can be checked without the prompt is checked here, with the engine's own `bind` (hook,
head, index, vector shape), so that a bad item is refused at `interventions.*` / `vectors.save` instead
of failing the next run; numbers must be finite and within `max_abs_value`, so that no item can fill a
session's later runs with NaN or infinity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from loupe.engine.plan import RefResolver
from loupe.errors import LoupeError
from loupe.hooks.apply import bind
from loupe.hooks.interventions import Feature, Intervention, parse_intervention
from loupe.server.limits import Limits

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


def check_values(what: str, values: torch.Tensor | np.ndarray | float, bound: float, code: str) -> None:
    """Raise LoupeError(`code`) unless every value is finite with |value| <= `bound`."""
    t = torch.as_tensor(values, dtype=torch.float64)  # a scale of 1e308 is big, not infinite
    if t.numel() == 0:
        return
    if not bool(torch.isfinite(t).all()):
        raise LoupeError(code, f"{what}: has non-finite values (NaN or infinity)")
    biggest = float(t.abs().max())
    if biggest > bound:
        raise LoupeError(code, f"{what}: |value| {biggest:.4g} is over the limit of {bound:g} (max_abs_value)")


def check_intervention(
    model: HookedModel, limits: Limits, item: Mapping[str, Any], vectors: Mapping[str, torch.Tensor]
) -> Intervention:
    """The parsed intervention of `item` (engine form: tensors, not numpy), or LoupeError naming what is wrong."""
    iv = parse_intervention(item)
    if iv.hook or not isinstance(iv, Feature):  # a feature intervention's hook is its SAE's (bind checks it)
        model.points[iv.hook]  # unknown_hook, with a suggestion
    name = f"intervention {iv.id or ''} ({iv.op} on {iv.hook})".replace("  ", " ")
    bound = float(limits.max_abs_value)
    for key in ("scale", "factor", "value"):
        value = getattr(iv, key, None)
        if value is not None:
            check_values(f"{name}.{key}", float(value), bound, "bad_intervention")
    for key in ("vector", "direction", "source"):
        value = getattr(iv, key, None)
        if isinstance(value, torch.Tensor):
            check_values(f"{name}.{key}", value, bound, "bad_intervention")
    reach = limits.max_prompt_tokens
    for p in iv.positions or ():
        if not -reach <= p < reach:
            raise LoupeError(
                "bad_intervention", f"{name}: position {p} is outside every prompt (max_prompt_tokens {reach})"
            )

    bind(iv, model.points, model.cfg, _AddResolver(model, {}, vectors), seq_len=0)
    return iv


class _AddResolver(RefResolver):
    """The engine's resolver, except that patch sources are checked when a run uses them (against its prompt)."""

    def __call__(self, kind: str, ref: object, hook: str) -> torch.Tensor:
        return torch.empty(0) if kind == "source" else super().__call__(kind, ref, hook)


def check_vector(model: HookedModel, limits: Limits, name: str, vector: np.ndarray | torch.Tensor) -> torch.Tensor:
    """An uploaded steering vector as float32 [d_model], or LoupeError (bad_message) saying what is wrong."""
    t = torch.from_numpy(np.array(vector, dtype=np.float32)) if isinstance(vector, np.ndarray) else vector.float()
    d = model.cfg.d_model
    if tuple(t.shape) != (d,):
        raise LoupeError("bad_message", f"vectors.save.vector: expected shape [{d}] (d_model), got {list(t.shape)}")
    check_values(f"vectors.save.vector {name!r}", t, float(limits.max_abs_value), "bad_message")
    return t
