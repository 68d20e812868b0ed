"""A real server on loopback: uvicorn in a background thread serving a tiny random Llama."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

import loupe
from loupe.server.background import serving
from loupe.server.limits import Limits

LOCAL_WS = "ws://localhost/ws"  # TestClient WebSockets need a loopback Host: the app refuses others
TEST_LIMITS = Limits(max_message_bytes=64 << 10, max_prompt_tokens=48, max_new_tokens=40, max_queued_jobs=4)


@dataclass
class Server:
    url: str  # ws://127.0.0.1:PORT/ws
    http: str  # http://127.0.0.1:PORT
    model: loupe.HookedModel
    limits: Limits


@contextlib.contextmanager
def serve(model: loupe.HookedModel, limits: Limits) -> Iterator[Server]:
    with serving(model, limits) as url:
        yield Server(url, url.replace("ws://", "http://").removesuffix("/ws"), model, limits)


@pytest.fixture(scope="session")
def tiny(tokenizer: Any) -> loupe.HookedModel:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
        initializer_range=0.2,
    )
    return loupe.load(AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval(), tokenizer=tokenizer)


@pytest.fixture(scope="session")
def server(tiny: loupe.HookedModel) -> Iterator[Server]:
    with serve(tiny, TEST_LIMITS) as s:
        yield s


@pytest.fixture(scope="session")
def smol_server(smol: loupe.HookedModel) -> Iterator[Server]:
    with serve(smol, Limits()) as s:
        yield s


@contextlib.contextmanager
def slow_layers(model: loupe.HookedModel, seconds: float) -> Iterator[list[int]]:
    """Make every decoder layer sleep, so that streaming and cancelling show in time stamps.

    Yields a one-element list counting the decoder-layer forwards run so far."""
    calls = [0]

    def hook(*args: Any) -> None:
        calls[0] += 1
        time.sleep(seconds)

    handles = [block.register_forward_hook(hook) for block in model.adapter.blocks(model.hf)]
    try:
        yield calls
    finally:
        for h in handles:
            h.remove()
