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
from typing_extensions import TypedDict, Unpack

from loupe.engine.compute import ComputeThread
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


class RunOptions(TypedDict, total=False):
    """The keyword arguments of a run (`loupe.engine.runner.run` documents them)."""

    capture: Sequence[str] | str
    interventions: InterventionsIn
    on_layer: LayerCallback | None
    sources: Mapping[str, Any] | None
    vectors: Mapping[str, Any] | None
    cancel: threading.Event | None
    padding_side: str
    grad: bool
    stream: Sequence[str] | str
    features: Sequence[SAE | str]
    feature_k: int


class ModelView(Protocol):
    """A model as analyses use it: its config, modules and tokenizer, and runs (see `loupe.engine.runner.run`)."""

    cfg: ModelConfig
    hf: PreTrainedModel
    adapter: Adapter
    tokenizer: Any
    points: HookPoints
    lock: Turns
    compute: ComputeThread | None  # where passes run (and an analysis's backward pass): None = the caller's thread

    @property
    def device(self) -> torch.device: ...

    def run(self, inputs: Inputs, **options: Unpack[RunOptions]) -> RunResult: ...

    def pass_parts(self) -> PassParts:
        """What `run` adds to every forward pass, for code that runs passes below `run` (on a KV cache)."""
        ...

    def forward(
        self,
        ctx: RunContext,
        tokens: torch.Tensor,
        mask: torch.Tensor,
        position_ids: torch.Tensor | None = ...,
        past: Any = ...,
    ) -> torch.Tensor: ...

    def encode(self, inputs: Inputs, padding_side: str = "right") -> tuple[torch.Tensor, torch.Tensor]: ...

    def to_tokens(self, inputs: Inputs, padding_side: str = "right") -> torch.Tensor: ...

    def decode_each(self, ids: list[int]) -> list[str]: ...

    def unembed(self, resid: torch.Tensor) -> torch.Tensor: ...

    def match_hooks(self, patterns: str | Iterable[str]) -> list[str]: ...

    def hook_shape(self, name: str) -> tuple[str, ...]: ...

    def sae(self, ref: SAE | str) -> SAE: ...
