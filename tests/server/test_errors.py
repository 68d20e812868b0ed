"""Every malformed input gets an `error` frame naming what was expected; the session and server stay usable."""

from __future__ import annotations

import msgpack
import numpy as np
import pytest

from tests.server.conftest import Server
from tests.server.wire import Raw, tensor

BAD_MESSAGES = [
    ({"type": "run", "id": "e", "prompt": 5}, "bad_message", "run.prompt"),
    ({"type": "run", "id": "e", "prompt": "hi", "top_k": "ten"}, "bad_message", "run.top_k"),
    ({"type": "run", "id": "e", "prompt": "hi", "top_k": 1000}, "bad_message", "run.top_k"),
    ({"type": "run", "id": "e"}, "bad_message", "prompt"),
    ({"type": "run", "id": "e", "prompt": "hi", "tokens": [1, 2]}, "bad_message", "exactly one"),
    ({"type": "run", "prompt": "hi"}, "bad_message", "run.id"),
    ({"type": "run", "id": "e", "prompt": "hi", "dtype": "f64"}, "bad_message", "run.dtype"),
    ({"type": "run", "id": "e", "prompt": "hi", "answer": " a"}, "bad_message", "answer"),
    (
        {"type": "run", "id": "e", "prompt": "hi", "answer": " Marygold", "wrong": " John"},
        "bad_message",
        "run.answer: ' Marygold' is 2 tokens (' Mary' + 'gold')",
    ),
    ({"type": "run", "id": "e", "prompt": "hi", "answer": " Mary", "wrong": ""}, "bad_message", "run.wrong: '' is 0"),
    ({"type": "run", "id": "e", "prompt": "hi", "capture": ["blocks.*.nope"]}, "unknown_hook", "blocks.*.nope"),
    ({"type": "run", "id": "e", "prompt": ""}, "empty_prompt", "empty"),
    ({"type": "run", "id": "e", "prompt": "word " * 60}, "too_long", "48"),
    ({"type": "run", "id": "e", "tokens": [10**9]}, "bad_input", "token ids"),
    ({"type": "explode", "id": "e"}, "unknown_type", "explode"),
    ({"id": "e"}, "bad_message", "type"),
    ({"type": "generate", "id": "e", "prompt": "hi", "max_new_tokens": 1000}, "too_long", "max_new_tokens"),
    ({"type": "interventions.add", "id": "e", "item": {"op": "melt", "hook": "hook_embed"}}, "bad_intervention", "op"),
    (
        {"type": "interventions.add", "id": "e", "item": {"op": "ablate", "hook": "blocks.99.hook_z"}},
        "unknown_hook",
        "",
    ),
    (
        {"type": "interventions.add", "id": "e", "item": {"op": "steer", "hook": "hook_embed", "vector": "v9"}},
        "not_found",
        "v9",
    ),
    ({"type": "interventions.add", "id": "e", "item": "zero"}, "bad_message", "interventions.add.item"),
    ({"type": "interventions.remove", "id": "e", "ids": ["i404"]}, "not_found", "i404"),
    ({"type": "vectors.save", "id": "e", "name": "v", "vector": [1.0, 2.0]}, "bad_message", "vectors.save.vector"),
    (
        {"type": "vectors.save", "id": "e", "name": "v", "vector": {"dtype": "f32", "shape": [3], "data": b"\0" * 8}},
        "bad_message",
        "needs 12 bytes",
    ),
    ({"type": "cancel", "id": "e", "target": "nothing"}, "not_found", "nothing"),
    ({"type": "hello", "id": "e", "protocol": 1}, "bad_message", "already"),
]


@pytest.mark.parametrize(("message", "code", "mentions"), BAD_MESSAGES)
async def test_bad_request_gets_error_and_session_survives(
    server: Server, message: dict, code: str, mentions: str
) -> None:
    c = await Raw.connect(server.url)
    await c.send(message)
    err = await c.recv()
    assert err["type"] == "error" and err["code"] == code, err
    assert mentions in err["message"]
    assert err.get("id") == message.get("id")
    assert await c.ping_ok()
    await c.close()


BAD_FRAMES = [
    (b"\xc1\xc1\xc1", "bad_frame"),  # not msgpack
    (msgpack.packb([1, 2, 3]), "bad_frame"),  # not a map
    (msgpack.packb({1: 2}), "bad_frame"),  # non-string key
    (msgpack.packb({"type": "ping"}) + b"\x00", "bad_frame"),  # trailing bytes
    (b"\x91" * 200 + b"\xc0", "bad_frame"),  # deep nesting, not a map at the top either
    ("a text frame", "bad_frame"),
]


@pytest.mark.parametrize(("frame", "code"), BAD_FRAMES)
async def test_bad_frame_gets_error(server: Server, frame: bytes | str, code: str) -> None:
    c = await Raw.connect(server.url)
    await c.send_bytes(frame)
    err = await c.recv()
    assert err["type"] == "error" and err["code"] == code and "id" not in err
    assert await c.ping_ok()
    await c.close()


async def test_oversized_frame_and_unpack_limits(server: Server) -> None:
    c = await Raw.connect(server.url)
    big = server.limits.max_message_bytes + 1
    await c.send({"type": "vectors.save", "id": "big", "name": "v", "vector": tensor(np.zeros(big // 4, np.float32))})
    err = await c.recv()
    assert err["code"] == "too_large" and "limit" in err["message"]
    await c.send({"type": "run", "id": "x", "capture": ["x"] * 70000})  # over max_array_len, under the byte cap
    err = await c.recv()
    assert err["code"] in ("bad_frame", "too_large")
    assert await c.ping_ok()
    await c.close()


async def test_requests_before_hello_and_wrong_protocol(server: Server) -> None:
    c = await Raw.connect(server.url, hello=False)
    assert await c.ping_ok()  # ping is allowed before hello
    await c.send({"type": "run", "id": "r", "prompt": "hi"})
    err = await c.recv()
    assert err["code"] == "no_hello" and err["id"] == "r"
    await c.send({"type": "hello", "protocol": 99})
    err = await c.recv()
    assert err["code"] == "unsupported_protocol" and "[1]" in err["message"]
    await c.send({"type": "hello", "protocol": 1})
    assert (await c.recv())["type"] == "welcome"
    await c.close()


async def test_server_survives_a_flood_of_garbage(server: Server) -> None:
    rng = np.random.default_rng(0)
    c = await Raw.connect(server.url)
    for _ in range(50):
        await c.send_bytes(rng.integers(0, 256, int(rng.integers(1, 300)), dtype=np.uint8).tobytes())
    errors = [await c.recv() for _ in range(50)]
    assert all(e["type"] == "error" for e in errors)
    assert await c.ping_ok()
    other = await Raw.connect(server.url)
    assert await other.ping_ok()
    await c.close()
    await other.close()
