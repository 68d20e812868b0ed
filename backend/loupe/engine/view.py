"""`ModelView`: what analyses need of a model, as a typed protocol.

A `HookedModel` is one; so is a view whose runs carry more than the caller passes (the server's session model
adds the session's interventions, saved runs, vectors and the job's cancel flag to every run). Analyses take a
`ModelView`, so they run the same on either and never see which.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import torch
from transformers import PreTrainedModel

from loupe.engine.plan import InterventionsIn, PassParts
from loupe.engine.result import RunResult
from loupe.engine.turns import Turns
from loupe.hooks.context import LayerCallback, RunContext
from loupe.hooks.points import HookPoints
from loupe.models.adapters import Adapter
from loupe.models.config import ModelConfig

if TYPE_CHECKING:
    from loupe.engine.model import Inputs
    from loupe.features.sae import SAE


class ModelView(Protocol):
    """A model as analyses use it: its config, modules and tokenizer, and runs (see `loupe.engine.runner.run`)."""

    @property
    def cfg(self) -> ModelConfig: ...

    @property
    def hf(self) -> PreTrainedModel: ...

    @property
    def adapter(self) -> Adapter: ...

    @property
    def tokenizer(self) -> Any: ...

    @property
    def points(self) -> HookPoints: ...

    @property
    def lock(self) -> Turns: ...

    @property
    def device(self) -> torch.device: ...

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
    ) -> RunResult: ...

    def pass_parts(self) -> PassParts:
        """What `run` adds to every forward pass, for code that runs passes below `run` (on a KV cache)."""
        ...

    def forward(
        self,
        ctx: RunContext,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        past: Any = None,
    ) -> torch.Tensor: ...

    def encode(self, inputs: Inputs, padding_side: str = "right") -> tuple[torch.Tensor, torch.Tensor]: ...

    def to_tokens(self, inputs: Inputs, padding_side: str = "right") -> torch.Tensor: ...

    def decode_each(self, ids: list[int]) -> list[str]: ...

    def unembed(self, resid: torch.Tensor) -> torch.Tensor: ...

    def match_hooks(self, patterns: str | Iterable[str]) -> list[str]: ...

    def hook_shape(self, name: str) -> tuple[str, ...]: ...

    def sae(self, ref: SAE | str) -> SAE: ...
