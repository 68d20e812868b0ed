"""Operator configuration: limits from LOUPE_LIMIT_* / --limit, LOUPE_TOKEN, LOUPE_ALLOWED_ORIGINS, LOUPE_MODEL."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import loupe
from loupe import cli
from loupe.codec import pack, unpack
from loupe.errors import LoupeError
from loupe.server.limits import Limits
from loupe.server.origins import origin_allowed, parse_origins
from loupe.server.requests import token_matches
from tests.server.conftest import LOCAL_WS


def test_limits_from_env_and_overrides() -> None:
    env = {"LOUPE_LIMIT_MAX_SESSIONS": "8", "LOUPE_LIMIT_MAX_PROMPT_TOKENS": "1_024", "OTHER": "x"}
    lim = Limits.configured(env, ["max-new-tokens=12", "max_sessions=9"])
    assert (lim.max_sessions, lim.max_prompt_tokens, lim.max_new_tokens) == (9, 1024, 12)
    assert lim.max_queued_jobs == Limits().max_queued_jobs
    for env, over, says in [
        ({"LOUPE_LIMIT_MAX_SESIONS": "8"}, [], "unknown limit 'max_sesions'"),
        ({}, ["max_sessions=lots"], "positive integer"),
        ({}, ["max_sessions=0"], "positive integer"),
        ({}, ["max_sessions"], "NAME=VALUE"),
    ]:
        with pytest.raises(LoupeError, match=says):
            Limits.configured(env, over)


def test_every_limit_is_listed_in_serve_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["serve", "--help"])
    text = capsys.readouterr().out
    for name in Limits.names():
        assert f"{name}=" in text
    assert "LOUPE_LIMIT_" in text and "LOUPE_TOKEN" in text and "LOUPE_ALLOWED_ORIGINS" in text


def test_cli_reads_the_compose_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOUPE_TOKEN", "from-env")
    monkeypatch.setenv("LOUPE_ALLOWED_ORIGINS", "https://lab.example.org, tools.example")
    monkeypatch.setenv("LOUPE_MODEL", "/models/mine")
    args = cli.parser().parse_args(["serve"])
    assert (args.token, args.model) == ("from-env", "/models/mine")
    assert parse_origins(args.allowed_origins) == {"https://lab.example.org", "tools.example"}
    assert cli.parser().parse_args(["serve", "--token", "flag"]).token == "flag"  # the flag wins
    for name in ("LOUPE_TOKEN", "LOUPE_ALLOWED_ORIGINS", "LOUPE_MODEL"):
        monkeypatch.setenv(name, "")  # compose passes unset variables as empty strings
    args = cli.parser().parse_args(["serve"])
    assert (args.token, args.allowed_origins, args.model) == (None, None, None)


def test_serve_main_applies_token_origins_and_limits(
    monkeypatch: pytest.MonkeyPatch, tiny: loupe.HookedModel, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    started: dict[str, Any] = {}
    monkeypatch.setattr(loupe, "load", lambda name, device="cpu": started.setdefault("model", name) and tiny)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    monkeypatch.setenv("LOUPE_TOKEN", "t0ken")
    monkeypatch.setenv("LOUPE_ALLOWED_ORIGINS", "https://lab.example.org")
    monkeypatch.setenv("LOUPE_MODEL", "operator/model")
    monkeypatch.setenv("LOUPE_LIMIT_MAX_SESSIONS", "5")
    assert cli.main(["serve", "--host", "0.0.0.0", "--limit", "max_new_tokens=7"]) == 0
    assert started["model"] == "operator/model" and started["host"] == "0.0.0.0"
    assert "?token=t0ken" in capsys.readouterr().err
    with TestClient(started["app"], base_url="http://localhost") as client:
        health = client.get("/api/health").json()
        assert health["max_sessions"] == 5
        assert client.get("/api/model").json()["limits"]["max_new_tokens"] == 7
        with client.websocket_connect(LOCAL_WS, headers={"origin": "https://lab.example.org"}) as ws:
            ws.send_bytes(pack({"type": "hello", "protocol": 1, "token": "t0ken"}))
            assert unpack(ws.receive_bytes())["type"] == "welcome"
        with (
            pytest.raises(WebSocketDisconnect),
            client.websocket_connect(LOCAL_WS, headers={"origin": "https://other.example"}) as ws,
        ):
            ws.receive_bytes()


def test_a_bad_limit_stops_serve_before_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loupe, "load", lambda *a, **k: pytest.fail("loaded a model despite a bad limit"))
    assert cli.main(["serve", "--limit", "max_sesions=3"]) == 1


def test_origin_allowlist() -> None:
    allowed = parse_origins("https://lab.example.org, http://10.0.0.5:5173/,notebooks.example")
    assert origin_allowed("https://lab.example.org", "loupe.internal:8000", allowed)
    assert origin_allowed("https://LAB.example.org:443", "loupe.internal:8000", allowed)
    assert origin_allowed("http://10.0.0.5:5173", "loupe.internal:8000", allowed)
    assert origin_allowed("https://notebooks.example:8888", "loupe.internal:8000", allowed)
    assert not origin_allowed("http://lab.example.org", "loupe.internal:8000", allowed)  # scheme differs
    assert not origin_allowed("http://10.0.0.5:5174", "loupe.internal:8000", allowed)
    assert not origin_allowed("https://lab.example.org.evil.example", "loupe.internal:8000", allowed)
    assert not origin_allowed("null", "loupe.internal:8000", allowed)
    assert not origin_allowed("https://evil.example", "loupe.internal:8000", ())


def test_token_comparison() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches(None, "abc") and not token_matches("", "abc") and not token_matches("ab", "abc")
    assert not token_matches("tökén", "abc")  # non-ASCII input must not raise


def test_no_message_type_loads_a_model() -> None:
    from loupe.server.protocol import SPECS

    fields = {name for spec in SPECS.values() for name in spec}
    assert not {"model", "path", "checkpoint", "weights"} & fields
    assert not any("model" in t or "load" in t for t in SPECS)


def test_unpack_limits_follow_the_configured_limits() -> None:
    import msgpack

    from loupe.codec import CodecError, unpack_map

    lim = Limits.configured({"LOUPE_LIMIT_MAX_ARRAY_LEN": "10", "LOUPE_LIMIT_MAX_MAP_LEN": "8"}).unpack()
    assert unpack_map(msgpack.packb({"type": "run", "tokens": list(range(10))}), lim)
    default = Limits().unpack()
    nested = b"\x81\xa4type" + b"\x91" * 65 + b"\xc0"
    for frame, limits in [
        (msgpack.packb({"type": "run", "tokens": list(range(11))}), lim),
        (msgpack.packb({str(i): i for i in range(9)}), lim),
        (msgpack.packb({"type": "x" * ((256 << 10) + 1)}), default),
        (msgpack.packb({"t": list(range(65537))}), default),
        (msgpack.packb({"t": msgpack.ExtType(1, b"x")}), default),
        (b"\x81\xa1t\xc6\xff\xff\xff\xff", default),  # a bin header claiming 4 GiB
    ]:
        with pytest.raises(CodecError) as err:
            unpack_map(frame, limits)
        assert err.value.code == "bad_frame"
    from loupe.codec import decode_tensors

    with pytest.raises(CodecError, match="nested deeper"):
        decode_tensors(unpack_map(nested, default))
    with pytest.raises(CodecError) as err:
        unpack_map(b"\0" * ((1 << 20) + 1), default)
    assert err.value.code == "too_large"
