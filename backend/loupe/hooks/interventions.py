"""Interventions as plain data: the wire dicts and the dataclasses they parse into."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal

from loupe.errors import LoupeError

Positions = tuple[int, ...] | None


@dataclass(frozen=True, kw_only=True)
class Intervention:
    """Fields shared by every op: where it applies and to which positions, head and batch rows."""

    hook: str
    id: str | None = None
    positions: Positions = None  # None = every position; negative counts from the end of the prompt
    head: int | None = None  # only for per-head points (hook_q/k/v/z, hook_pattern, ...)
    rows: tuple[int, ...] | None = None  # batch rows it applies to; None = all (the scheduler sets this)
    enabled: bool = True

    op = "base"


@dataclass(frozen=True, kw_only=True)
class Ablate(Intervention):
    """Replace the activation by zero, or by its mean over batch and positions (of this run or of `source`)."""

    mode: Literal["zero", "mean"] = "zero"
    source: Any = None  # for mode="mean": a saved run id / RunResult whose mean is used instead
    op = "ablate"


@dataclass(frozen=True, kw_only=True)
class Patch(Intervention):
    """Replace the activation by the same point's activation in another run (`source`)."""

    source: Any  # saved run id, a RunResult, or a tensor shaped like the point
    op = "patch"


@dataclass(frozen=True, kw_only=True)
class Steer(Intervention):
    """Add `scale * vector` along the last dimension."""

    vector: Any  # tensor / list of floats / saved vector id
    scale: float = 1.0
    op = "steer"


@dataclass(frozen=True, kw_only=True)
class Scale(Intervention):
    """Multiply by `factor` one neuron (`index` along the last dim), one `direction` component, or with
    neither the whole selected activation (one `head`'s, the chosen `positions`, or all of it)."""

    factor: float
    index: int | None = None
    direction: Any = None
    op = "scale"


@dataclass(frozen=True, kw_only=True)
class Feature(Intervention):
    """Edit SAE feature `index` at the SAE's hook, keeping what the SAE does not explain: with a_f its activation
    and d_f its decoder row, set: x += (value - a_f) d_f; add: x += value d_f; scale: x += (value - 1) a_f d_f;
    ablate: x -= a_f d_f."""

    hook: str = ""  # the SAE's hook; may be left out
    sae: Any  # the id of an SAE attached to the model, or an SAE
    index: int
    mode: Literal["set", "add", "scale", "ablate"] = "set"
    value: float | None = None  # required except for ablate
    op = "feature"


FEATURE_MODES = ("set", "add", "scale", "ablate")
OPS: dict[str, type[Intervention]] = {c.op: c for c in (Ablate, Patch, Steer, Scale, Feature)}


def parse_intervention(obj: Intervention | Mapping[str, Any]) -> Intervention:
    """Accept a dataclass or a wire dict; raise LoupeError(bad_intervention) naming what is wrong."""
    if isinstance(obj, Intervention):
        return obj
    if not isinstance(obj, Mapping):
        raise _bad(f"an intervention must be a map with an 'op', got {type(obj).__name__}")
    op = obj.get("op")
    cls = OPS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise _bad(f"intervention 'op' must be one of {sorted(OPS)}, got {op!r}")
    allowed = {f.name for f in fields(cls)} | {"op", "label"}
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise _bad(f"unknown field(s) {unknown} in {op!r} intervention; allowed: {sorted(allowed - {'op'})}")
    kwargs = {k: v for k, v in obj.items() if k not in ("op", "label")}
    if not isinstance(kwargs.get("hook", "" if op == "feature" else None), str):
        raise _bad(f"{op!r} intervention needs a 'hook' string naming a hook point")
    kwargs["positions"] = _positions(kwargs.get("positions"), "positions")
    kwargs["rows"] = _positions(kwargs.get("rows"), "rows")
    _check_types(str(op), kwargs)
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a missing required field
        raise _bad(f"{op!r} intervention: {exc}") from None


def parse_interventions(items: Sequence[Intervention | Mapping[str, Any]] | None) -> list[Intervention]:
    return [parse_intervention(i) for i in items or ()]


def _positions(value: Any, name: str) -> tuple[int, ...] | None:
    if value is None or value == "all":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(p, int) and not isinstance(p, bool) for p in value):
        return tuple(value)
    raise _bad(f"'{name}' must be \"all\", an int or a list of ints, got {value!r}")


def _check_types(op: str, kw: dict[str, Any]) -> None:
    for key in ("head", "index"):
        v = kw.get(key)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise _bad(f"'{key}' must be an int, got {v!r}")
    for key in ("scale", "factor", "value"):
        v = kw.get(key)
        if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
            raise _bad(f"'{key}' must be a number, got {v!r}")
    if op == "ablate" and kw.get("mode", "zero") not in ("zero", "mean"):
        raise _bad(f"ablate 'mode' must be 'zero' or 'mean', got {kw.get('mode')!r}")
    if op == "feature":
        if kw.get("mode", "set") not in FEATURE_MODES:
            raise _bad(f"feature 'mode' must be one of {list(FEATURE_MODES)}, got {kw.get('mode')!r}")
        if not isinstance(kw.get("sae"), str) and not hasattr(kw.get("sae"), "encode"):
            raise _bad(f"feature intervention needs 'sae': the id of an SAE, got {kw.get('sae')!r}")
    if not isinstance(kw.get("enabled", True), bool):
        raise _bad("'enabled' must be a boolean")
    if kw.get("id") is not None and not isinstance(kw["id"], str):
        raise _bad("'id' must be a string")


def _bad(message: str) -> LoupeError:
    return LoupeError("bad_intervention", message)
