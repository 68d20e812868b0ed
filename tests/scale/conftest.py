"""A tiny random Llama (in process, and saved to disk for Ray replicas) and an ASGI app in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loupe
from loupe.server.limits import Limits
from tests.conftest import build_hf

LIMITS = Limits(max_prompt_tokens=48, max_new_tokens=16)
PROMPTS = ["The quick brown fox", "When Mary and John went to the store", "One two three", "A", "Paris is", "Hi"]
ABLATE = {"id": "zero0", "op": "ablate", "hook": "blocks.0.hook_resid_post", "mode": "zero"}


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> Path:
    """The tiny model's checkpoint, which every replica loads (the same weights everywhere)."""
    path = tmp_path_factory.mktemp("tiny-llama")
    build_hf("llama", seed=3).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_local(tiny_dir: Path) -> loupe.HookedModel:
    return loupe.load(str(tiny_dir))


@contextlib.contextmanager
def serving_asgi(app: Any, max_size: int) -> Iterator[str]:
    """`app` on a free loopback port (uvicorn in a daemon thread); yields http://127.0.0.1:PORT."""
    import uvicorn

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws_max_size=max_size))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


async def run_top(raw: Any, prompt: str, rid: Any = "r") -> list[tuple[int, float]]:
    """The next-token (token, logit) list of one `run`, as the replica computed it."""
    frames = await raw.request({"type": "run", "id": rid, "prompt": prompt, "top_k": 5, "summaries": False}, True)
    result = next(f for f in frames if f["type"] == "run.result")
    assert frames[-1]["type"] == "done", frames[-1]
    return [(p["token"], p["logit"]) for p in result["top_k"]]


def same_predictions(got: list[list[tuple[int, float]]], want: list[list[tuple[int, float]]]) -> bool:
    """Equal tokens, logits equal up to float32 rounding (batched rows may sum in another order)."""
    pairs = [(a, b) for g, w in zip(got, want, strict=True) for a, b in zip(g, w, strict=True)]
    return all(a[0] == b[0] and abs(a[1] - b[1]) <= 1e-4 * max(1.0, abs(b[1])) for a, b in pairs)
