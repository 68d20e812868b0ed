"""`SessionModel`: the model as an analysis job sees it (a `loupe.engine.view.ModelView`), with the session's
interventions, saved runs and vectors in every run and the job's cancel flag."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch
from transformers import PreTrainedModel

from loupe.engine.plan import InterventionsIn, PassParts
from loupe.engine.result import RunResult
from loupe.engine.turns import Turns
from loupe.errors import Cancelled
from loupe.hooks.context import LayerCallback, RunContext
from loupe.hooks.points import HookPoints
from loupe.models.adapters import Adapter
from loupe.models.config import ModelConfig
from loupe.server.host import JobContext

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.features.sae import SAE


class SessionModel:
    """The host's model with every run carrying the session's interventions (unless `interventions` is False),
    saved runs and vectors, and stopping when the job is cancelled; everything else is the model's own."""

    def __init__(self, ctx: JobContext, interventions: bool = True) -> None:
        self._model, self._ctx = ctx.host.model, ctx
        self._ivs = list(ctx.snapshot.interventions) if interventions else []

    @property
    def cfg(self) -> ModelConfig:
        return self._model.cfg

    @property
    def hf(self) -> PreTrainedModel:
        return self._model.hf

    @property
    def adapter(self) -> Adapter:
        return self._model.adapter

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    @property
    def points(self) -> HookPoints:
        return self._model.points

    @property
    def lock(self) -> Turns:
        return self._model.lock

    @property
    def device(self) -> torch.device:
        return self._model.device

    def pass_parts(self) -> PassParts:
        """What `run` adds, for passes run on a KV cache (a patch sweep's shared prefix)."""
        snap = self._ctx.snapshot
        return PassParts(self._model, self._ivs, snap.sources, snap.vectors, self._ctx.cancel)

    def run(
        self,
        inputs: Inputs,
        capture: Sequence[str] | str = (),
        interventions: InterventionsIn = None,
        on_layer: LayerCallback | None = None,
        sources: Mapping[str, Any] | None = None,
        vectors: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
        padding_side: str = "right",
        grad: bool = False,
        stream: Sequence[str] | str = (),
        features: Sequence[SAE | str] = (),
        feature_k: int = 16,
    ) -> RunResult:
        """The model's run after the session's interventions; the session's saved runs and vectors (and the job's
        cancel flag) stand in for `sources`, `vectors` and `cancel`."""
        if self._ctx.cancel.is_set():
            raise Cancelled("cancelled")
        snap = self._ctx.snapshot
        return self._model.run(
            inputs,
            capture,
            [*self._ivs, *(interventions or ())],
            on_layer,
            snap.sources,
            snap.vectors,
            self._ctx.cancel,
            padding_side,
            grad,
            stream,
            features,
            feature_k,
        )

    def forward(
        self,
        ctx: RunContext,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        past: Any = None,
    ) -> torch.Tensor:
        return self._model.forward(ctx, tokens, mask, position_ids, past)

    def encode(self, inputs: Inputs, padding_side: str = "right") -> tuple[torch.Tensor, torch.Tensor]:
        return self._model.encode(inputs, padding_side)

    def to_tokens(self, inputs: Inputs, padding_side: str = "right") -> torch.Tensor:
        return self._model.to_tokens(inputs, padding_side)

    def decode_each(self, ids: list[int]) -> list[str]:
        return self._model.decode_each(ids)

    def unembed(self, resid: torch.Tensor) -> torch.Tensor:
        return self._model.unembed(resid)

    def match_hooks(self, patterns: str | Iterable[str]) -> list[str]:
        return self._model.match_hooks(patterns)

    def hook_shape(self, name: str) -> tuple[str, ...]:
        return self._model.hook_shape(name)

    def sae(self, ref: SAE | str) -> SAE:
        return self._model.sae(ref)
