"""`SessionModel`: the model as an analysis job sees it, with the session's interventions, saved runs and vectors
in every run and the job's cancel flag."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loupe.engine.plan import PassParts
from loupe.errors import Cancelled
from loupe.server.host import JobContext

if TYPE_CHECKING:
    pass


class SessionModel:
    """The model as an analysis sees it: every run carries the session's interventions and the cancel flag."""

    def __init__(self, ctx: JobContext, interventions: bool = True) -> None:
        self._model, self._ctx = ctx.host.model, ctx
        self._ivs = list(ctx.snapshot.interventions) if interventions else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def pass_parts(self) -> PassParts:
        """What `run` adds, for passes run on a KV cache (a patch sweep's shared prefix)."""
        snap = self._ctx.snapshot
        return PassParts(self._model, self._ivs, snap.sources, snap.vectors, self._ctx.cancel)

    def run(self, inputs: Any, **kw: Any) -> Any:
        if self._ctx.cancel.is_set():
            raise Cancelled("cancelled")
        extra = list(kw.pop("interventions", None) or [])
        snap = self._ctx.snapshot
        return self._model.run(
            inputs,
            interventions=[*self._ivs, *extra],
            sources=snap.sources,
            vectors=snap.vectors,
            cancel=self._ctx.cancel,
            **kw,
        )
