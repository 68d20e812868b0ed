"""The tools users would otherwise pick, as functions of a token tensor: TransformerLens's
TransformerBridge.run_with_cache (every hook) and nnsight saving every layer's residual stream.

Each holds its own copy of the same weights; a tool that is not installed is left out.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import torch

import loupe
from loupe.engine.loading import EMBEDDED_NAME, embedded_checkpoint


def _transformer_lens(model: loupe.HookedModel) -> Callable[[torch.Tensor], object] | None:
    try:
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError:
        return None
    source = embedded_checkpoint() if model.cfg.name == EMBEDDED_NAME else model.hf.name_or_path
    bridge = TransformerBridge.boot_transformers(source, tokenizer=model.tokenizer, device=str(model.device))

    def run(tokens: torch.Tensor) -> object:
        with torch.no_grad():
            return bridge.run_with_cache(tokens)

    return run


def _nnsight(model: loupe.HookedModel) -> Callable[[torch.Tensor], object] | None:
    try:
        from nnsight import LanguageModel
    except ImportError:
        return None
    hf = copy.deepcopy(model.hf)
    hf.set_attn_implementation("sdpa")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = LanguageModel(hf, tokenizer=model.tokenizer)

    def run(tokens: torch.Tensor) -> object:
        saved = []
        with torch.no_grad(), lm.trace(tokens):
            for layer in lm.model.layers:
                saved.append(layer.output.save())
        return saved

    return run


def other_tools(model: loupe.HookedModel) -> dict[str, Callable[[torch.Tensor], object]]:
    """The installed tools, each a function of a token tensor."""
    tools = {"transformer_lens_all": _transformer_lens(model), "nnsight_resid": _nnsight(model)}
    return {k: v for k, v in tools.items() if v is not None}
