"""The spec (proto/README.md, schemas) and the server agree (issue 10, finding 8)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loupe.client import Client
from loupe.server.limits import Limits
from tests.server.conftest import Server, serve
from tests.server.wire import Raw

PROTO = Path(__file__).resolve().parents[2] / "proto"
README = (PROTO / "README.md").read_text()
PROMPT = "When Mary and John went to the store, John gave a drink to"


async def first_error(c: Raw, message: dict[str, Any]) -> dict[str, Any]:
    frames = await c.request(message, streaming=True)
    assert frames[-1]["type"] == "error", frames[-1]
    return frames[-1]


def test_every_limit_is_in_the_spec_and_in_welcome() -> None:
    section = README[README.index("## 8. Limits") : README.index("### Security")]
    for name in Limits.names():
        assert f"`{name}`" in section, name
    assert set(Limits().public()) == set(Limits.names())


async def test_welcome_limits_are_all_the_limits(server: Server) -> None:
    c = await Raw.connect(server.url)
    assert c.welcome["limits"] == {n: getattr(server.limits, n) for n in Limits.names()}
    await c.close()


@pytest.mark.parametrize(
    ("message", "code", "text"),
    [
        (
            {"type": "run", "prompt": PROMPT, "top_k": 101},
            "bad_message",
            "run.top_k: expected an integer in 1..100, got 101",
        ),
        (
            {"type": "run", "prompt": PROMPT, "top_k": "ten"},
            "bad_message",
            "run.top_k: expected an integer in 1..max_top_k (welcome.limits), got 'ten'",
        ),
        ({"type": "generate", "prompt": PROMPT, "top_p": 0}, "bad_message", "top_p"),
        ({"type": "generate", "prompt": PROMPT, "top_p": 5}, "bad_message", "top_p"),
        ({"type": "analyze", "kind": "qk_ov", "layer": 0, "head": 0, "k": 101}, "bad_message", "1..100"),
        ({"type": "analyze", "kind": "logit_lens", "prompt": PROMPT, "k": 101}, "bad_message", "1..100"),
    ],
)
async def test_errors_match_the_spec(server: Server, message: dict[str, Any], code: str, text: str) -> None:
    c = await Raw.connect(server.url)
    err = await first_error(c, {**message, "id": "x"})
    assert (err["code"], err["id"]) == (code, "x") and text in err["message"], err
    await c.close()


async def test_a_prompt_over_65536_characters_is_too_long(server: Server) -> None:
    limits = dataclasses.replace(server.limits, max_message_bytes=1 << 20)
    with serve(server.model, limits) as srv:
        c = await Raw.connect(srv.url)
        err = await first_error(c, {"type": "run", "id": "x", "prompt": "x" * 70_000})
        assert (err["code"], err["id"]) == ("too_long", "x") and "65536" in err["message"]
        await c.close()


def test_the_spec_quotes_the_servers_own_message() -> None:
    assert "run.top_k: expected an\ninteger in 1..max_top_k (welcome.limits), got 'ten'" in README


async def test_float_protocol_and_integral_floats(server: Server) -> None:
    c = await Raw.connect(server.url, hello=False)
    [welcome] = await c.request({"type": "hello", "protocol": 1.0, "id": "h"})
    assert welcome["type"] == "welcome"
    frames = await c.request({"type": "run", "id": 2, "prompt": PROMPT, "top_k": 3.0}, streaming=True)
    result = next(f for f in frames if f["type"] == "run.result")
    assert len(result["top_k"]) == 3 and frames[-1]["id"] == 2
    await c.close()


async def test_globs_as_the_spec_defines_them(server: Server) -> None:
    c = await Raw.connect(server.url)
    capture = ["blocks.[!0].hook_resid_post", "blocks.?.ln1.*"]
    frames = await c.request({"type": "run", "id": 1, "prompt": "Hi", "capture": capture}, streaming=True)
    got = {name for f in frames if f["type"] == "run.layer" for name in f["tensors"]}
    want = {f"blocks.{i}.hook_resid_post" for i in (1, 2, 3)} | {f"blocks.{i}.ln1.hook_normalized" for i in range(4)}
    assert got == want
    err = await first_error(c, {"type": "run", "id": 2, "prompt": "Hi", "capture": ["blocks.9*.hook_nothing"]})
    assert err["code"] == "unknown_hook"
    await c.close()


def test_every_schema_lists_all_its_messages() -> None:
    for path in (PROTO / "schema").glob("*.schema.json"):
        schema = json.loads(path.read_text())
        if "anyOf" not in schema:
            continue
        family = path.name.split(".")[0]
        listed = {ref["$ref"].split("/")[-1] for ref in schema.get("anyOf", [])}
        messages = {k for k in schema.get("$defs", {}) if k == family or k.startswith(f"{family}.")}
        assert messages <= listed, (path.name, messages - listed)


async def test_client_analyze(server: Server) -> None:
    async with Client(server.url) as c:
        out = await c.analyze("logit_lens", prompt=PROMPT, k=3)
        assert out["type"] == "analyze.result" and out["kind"] == "logit_lens" and not out["cancelled"]
        assert len(out["rows"]) == server.model.cfg.n_layers + 1 and out["ms"] > 0
        assert np.asarray(out["tokens"]).shape == (server.model.cfg.n_layers + 1, 3)
        reply = await c.call("analyze", kind="qk_ov", layer=1, head=2, k=4)
        assert reply["type"] == "analyze.result" and len(reply["ov_top"]["rows"]) == 4 and "ms" in reply
    assert "c.analyze(" in (PROTO.parent / "README.md").read_text()


IV = {"op": "ablate", "hook": "blocks.0.hook_resid_post"}


@pytest.mark.parametrize(
    ("message", "code", "text"),
    [
        ({"type": "run", "prompt": "Hi", "capture": ["blocks.0.*"] * 257}, "bad_message", "capture"),
        ({"type": "vectors.from_token", "name": "t", "token": "x" * 257}, "bad_message", "token"),
        ({"type": "interventions.set", "items": [IV] * 4097}, "bad_message", "items"),
        (
            {"type": "vectors.from_prompts", "name": "v", "layer": 1, "positive": ["a"] * 1025, "negative": ["b"]},
            "bad_message",
            "positive",
        ),
        (
            {"type": "vectors.from_prompts", "name": "v", "layer": 1, "positive": ["a"] * 65, "negative": ["b"]},
            "too_large",
            "64",
        ),
        (
            {"type": "vectors.from_prompts", "name": "v", "layer": 1, "positive": [PROMPT] * 3, "negative": [PROMPT]},
            "too_large",
            "40",
        ),
    ],
)
async def test_the_specs_fixed_bounds_and_job_limits(
    server: Server, message: dict[str, Any], code: str, text: str
) -> None:
    """Finding 7's 64-prompt job and finding 8's undocumented bounds: each is refused up front, naming it."""
    limits = dataclasses.replace(server.limits, max_message_bytes=1 << 20, max_job_tokens=40)
    with serve(server.model, limits) as srv:
        c = await Raw.connect(srv.url)
        err = await first_error(c, {**message, "id": "x"})
        assert (err["code"], err["id"]) == (code, "x") and text in err["message"], err
        assert await c.ping_ok()
        await c.close()
