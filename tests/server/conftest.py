"""A real server on loopback: uvicorn in a background thread serving a tiny random Llama."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
import uvicorn
from transformers import AutoModelForCausalLM, LlamaConfig

import loupe
from loupe.server.app import create_app
from loupe.server.limits import Limits

TEST_LIMITS = Limits(max_message_bytes=64 << 10, max_prompt_tokens=48, max_new_tokens=40, max_queued_jobs=4)


@dataclass
class Server:
    url: str  # ws://127.0.0.1:PORT/ws
    http: str  # http://127.0.0.1:PORT
    model: loupe.HookedModel
    limits: Limits


@contextlib.contextmanager
def serve(model: loupe.HookedModel, limits: Limits) -> Iterator[Server]:
    """Run the app on a free loopback port in a thread; stop it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(model, limits), log_level="warning", ws_max_size=limits.transport_max_bytes, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        yield Server(f"ws://127.0.0.1:{port}/ws", f"http://127.0.0.1:{port}", model, limits)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


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
