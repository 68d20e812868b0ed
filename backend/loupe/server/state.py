"""One session's data: its interventions, saved runs, steering vectors and last run.

Only the event-loop thread changes it; a job gets a `Snapshot` (references, taken when its
request arrived) and hands results back through the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from loupe.errors import LoupeError
from loupe.server.limits import Limits
from loupe.server.validate import check_intervention, check_values, check_vector

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.engine.result import RunResult


@dataclass
class SavedVector:
    vector: torch.Tensor  # float32 [d]
    origin: str  # "upload" | "prompts"

    def info(self, name: str) -> dict[str, Any]:
        return {
            "name": name,
            "d": int(self.vector.shape[0]),
            "norm": float(self.vector.norm()),
            "origin": self.origin,
        }


@dataclass
class LastRun:
    """What attention.head needs: the tokens and interventions of the last run, its patterns if kept."""

    tokens: torch.Tensor  # [1, pos]
    str_tokens: list[str]
    snapshot: Snapshot
    patterns: list[torch.Tensor] | None  # per layer [head, q, k] float16, None when over the memory budget


@dataclass(frozen=True)
class Snapshot:
    """The session state a job uses: enabled interventions (engine form), vectors and sources."""

    interventions: list[dict[str, Any]]
    vectors: dict[str, torch.Tensor]
    sources: dict[str, RunResult]

    def rows(self, rows: list[int]) -> list[dict[str, Any]]:
        """The interventions restricted to some batch rows (the engine's per-row `rows` field)."""
        return [{**iv, "rows": rows} for iv in self.interventions]


@dataclass
class SessionState:
    model: HookedModel
    limits: Limits
    interventions: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[str, RunResult] = field(default_factory=dict)
    vectors: dict[str, SavedVector] = field(default_factory=dict)
    last_run: LastRun | None = None
    _next_id: int = 1

    def snapshot(self) -> Snapshot:
        enabled = [_engine_form(iv) for iv in self.interventions if iv.get("enabled", True)]
        return Snapshot(enabled, {k: v.vector for k, v in self.vectors.items()}, dict(self.runs))

    # --- interventions --------------------------------------------------------------------------

    def check_intervention(self, item: dict[str, Any], taken: set[str]) -> dict[str, Any]:
        """A validated copy of a wire intervention, with `id` and `enabled` filled in."""
        item = dict(item)
        item.pop("rows", None)  # rows are the server's business (clean vs intervened rows)
        if item.get("id") is None:
            while f"i{self._next_id}" in taken:
                self._next_id += 1
            item["id"] = f"i{self._next_id}"
        item.setdefault("enabled", True)
        for key, store, what in (("source", self.runs, "run"), ("vector", self.vectors, "vector")):
            ref = item.get(key)
            if isinstance(ref, str) and ref not in store:
                raise LoupeError("not_found", f"intervention {item['id']}: no saved {what} named {ref!r}")
        vectors = {k: v.vector for k, v in self.vectors.items()}
        check_intervention(self.model, self.limits, _engine_form(item), vectors)
        return item

    def set_interventions(self, items: list[dict[str, Any]]) -> None:
        if len(items) > self.limits.max_interventions:
            raise LoupeError("too_large", f"at most {self.limits.max_interventions} interventions per session")
        out: list[dict[str, Any]] = []
        taken = {i["id"] for i in items if isinstance(i.get("id"), str)}
        for item in items:
            checked = self.check_intervention(item, taken)
            if any(o["id"] == checked["id"] for o in out):
                raise LoupeError("bad_intervention", f"two interventions have the id {checked['id']!r}")
            taken.add(checked["id"])
            out.append(checked)
        self.interventions = out

    def add_intervention(self, item: dict[str, Any]) -> None:
        checked = self.check_intervention(item, {i["id"] for i in self.interventions})
        for k, old in enumerate(self.interventions):
            if old["id"] == checked["id"]:
                self.interventions[k] = checked
                return
        self.set_interventions([*self.interventions, checked])

    def remove_interventions(self, ids: list[str]) -> None:
        known = {i["id"] for i in self.interventions}
        missing = [i for i in ids if i not in known]
        if missing:
            raise LoupeError("not_found", f"no intervention with id {missing}; known: {sorted(known)}")
        self.interventions = [i for i in self.interventions if i["id"] not in ids]

    # --- saved runs and vectors -----------------------------------------------------------------

    def save_run(self, name: str, result: RunResult) -> None:
        if name not in self.runs and len(self.runs) >= self.limits.max_saved_runs:
            raise LoupeError("too_large", f"at most {self.limits.max_saved_runs} saved runs per session")
        self.runs[name] = result

    def runs_items(self) -> list[dict[str, Any]]:
        return [
            {
                "name": n,
                "n_tokens": int(r.tokens.shape[1]),
                "str_tokens": r.str_tokens[0] if r.str_tokens else [],
            }
            for n, r in self.runs.items()
        ]

    def save_vector(self, name: str, vector: np.ndarray | torch.Tensor, origin: str) -> None:
        if name not in self.vectors and len(self.vectors) >= self.limits.max_vectors:
            raise LoupeError("too_large", f"at most {self.limits.max_vectors} vectors per session")
        if origin == "upload":
            t = check_vector(self.model, self.limits, name, vector)
        else:  # made by the server from the model; still never store NaN or infinity
            t = torch.as_tensor(vector).float()
            check_values(f"vector {name!r}", t, float("inf"), "bad_input")
        self.vectors[name] = SavedVector(t, origin)

    def vectors_items(self) -> list[dict[str, Any]]:
        return [v.info(n) for n, v in self.vectors.items()]

    def remove(self, kind: str, names: list[str]) -> None:
        store: dict[str, Any] = self.runs if kind == "runs" else self.vectors
        missing = [n for n in names if n not in store]
        if missing:
            raise LoupeError("not_found", f"no saved {kind} named {missing}; saved: {sorted(store)}")
        for n in names:
            del store[n]


def _engine_form(item: dict[str, Any]) -> dict[str, Any]:
    """A wire intervention as the engine takes it: numpy vectors as float32 tensors."""
    out = dict(item)
    for key in ("vector", "direction", "source"):
        if isinstance(out.get(key), np.ndarray):
            out[key] = torch.from_numpy(np.array(out[key], dtype=np.float32))  # a writable copy
    return out
