"""A Workbench on a tiny model with the page side simulated: frames in through the comm handler, out captured."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

import loupe
import loupe.notebook as nb
from loupe.client import CLIENT_LIMITS
from loupe.codec import pack, unpack


class Page:
    """Stands in for the widget's JavaScript: sends frames as the comm would, records what it receives."""

    def __init__(self, widget: nb.Workbench) -> None:
        self.widget = widget
        self.received: list[dict[str, Any]] = []
        widget.send = self._receive  # type: ignore[method-assign]

    def _receive(self, content: dict[str, Any], buffers: list[bytes] | None = None) -> None:
        assert content == {"kind": "frame"} and buffers is not None and len(buffers) == 1
        self.received.append(unpack(bytes(buffers[0]), CLIENT_LIMITS))

    def send(self, **msg: Any) -> None:
        self.widget._from_page(self.widget, {"kind": "frame"}, [memoryview(pack(msg))])

    def wait_for(self, match: Callable[[dict[str, Any]], bool], timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in list(self.received):
                if match(m):
                    return m
            time.sleep(0.02)
        raise AssertionError(f"no matching frame within {timeout} s; got {[m['type'] for m in self.received]}")


@pytest.fixture(scope="session")
def tiny_llama(tokenizer: Any) -> loupe.HookedModel:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=96,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
        initializer_range=0.2,
    )
    return loupe.load(AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval(), tokenizer=tokenizer)


@pytest.fixture
def widget(tiny_llama: loupe.HookedModel) -> Iterator[nb.Workbench]:
    w = nb.show(tiny_llama, "When Mary and John went to the store, John gave a drink to")
    yield w
    w.close()


@pytest.fixture
def page(widget: nb.Workbench) -> Page:
    return Page(widget)
