"""`SessionModel`: the model as an analysis job sees it (a `loupe.engine.view.ModelView`), with the session's
interventions, saved runs and vectors in every run and the job's cancel flag."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from typing_extensions import Unpack

from loupe.engine.plan import PassParts
from loupe.engine.result import RunResult
from loupe.errors import Cancelled
from loupe.server.host import JobContext

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.engine.view import RunOptions


class SessionModel:
    """The host's model with every run carrying the session's interventions (unless `interventions` is False),
    saved runs and vectors, and stopping when the job is cancelled; everything else is the model's own."""

    def __init__(self, ctx: JobContext, interventions: bool = True) -> None:
        model = self._model = ctx.host.model
        self._ctx = ctx
        self._ivs = list(ctx.snapshot.interventions) if interventions else []
        self.cfg, self.hf, self.adapter, self.tokenizer = model.cfg, model.hf, model.adapter, model.tokenizer
        self.points, self.lock, self.compute = model.points, model.lock, model.compute
        self.forward, self.encode, self.to_tokens = model.forward, model.encode, model.to_tokens
        self.decode_each, self.unembed, self.sae = model.decode_each, model.unembed, model.sae
        self.match_hooks, self.hook_shape = model.match_hooks, model.hook_shape

    @property
    def device(self) -> torch.device:
        return self._model.device

    def pass_parts(self) -> PassParts:
        """What `run` adds, for passes run on a KV cache (a patch sweep's shared prefix)."""
        snap = self._ctx.snapshot
        return PassParts(self._model, self._ivs, snap.sources, snap.vectors, self._ctx.cancel)

    def run(self, inputs: Inputs, **options: Unpack[RunOptions]) -> RunResult:
        """The model's run after the session's interventions; the session's saved runs and vectors (and the job's
        cancel flag) stand in for `sources`, `vectors` and `cancel`."""
        if self._ctx.cancel.is_set():
            raise Cancelled("cancelled")
        parts = self.pass_parts()
        options["interventions"] = [*parts.interventions, *(options.get("interventions") or ())]
        options["sources"], options["vectors"], options["cancel"] = parts.sources, parts.vectors, parts.cancel
        return self._model.run(inputs, **options)
