"""Shared fixtures: tiny random models of each supported family, and the embedded model."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPTNeoXConfig, LlamaConfig, PreTrainedModel

import loupe
from loupe.engine.loading import embedded_checkpoint

VOCAB = 49152  # the embedded tokenizer's vocabulary, so tiny models can take text


def tiny_config(arch: str) -> Any:
    common: dict[str, Any] = {"vocab_size": VOCAB, "initializer_range": 0.2}
    if arch == "gpt2":
        return GPT2Config(n_layer=2, n_head=4, n_embd=32, n_positions=64, **common)
    if arch == "llama":
        return LlamaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=48,
            max_position_embeddings=64,
            **common,
        )
    parallel = arch == "neox"
    return GPTNeoXConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=48,
        max_position_embeddings=64,
        rotary_pct=0.5,
        use_parallel_residual=parallel,
        **common,
    )


ARCHS = ["gpt2", "llama", "neox", "neox_sequential"]


def build_hf(arch: str, seed: int = 0) -> PreTrainedModel:
    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_config(tiny_config(arch), dtype=torch.float32).eval()


@pytest.fixture(scope="session")
def tokenizer() -> Any:
    return AutoTokenizer.from_pretrained(embedded_checkpoint())


@pytest.fixture(scope="session")
def make_pair(tokenizer: Any) -> Callable[[str], tuple[loupe.HookedModel, PreTrainedModel]]:
    """(Loupe-wrapped tiny model, an independent copy of the same weights using HF's own attention)."""
    cache: dict[str, tuple[loupe.HookedModel, PreTrainedModel]] = {}

    def make(arch: str) -> tuple[loupe.HookedModel, PreTrainedModel]:
        if arch not in cache:
            hf = build_hf(arch)
            ref = copy.deepcopy(hf)
            ref.set_attn_implementation("eager")
            cache[arch] = (loupe.load(hf, tokenizer=tokenizer), ref)
        return cache[arch]

    return make


@pytest.fixture(scope="session")
def smol() -> loupe.HookedModel:
    return loupe.load()
