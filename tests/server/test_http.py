"""HTTP endpoints, the static SPA, origin checks and the token handshake."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import loupe
from loupe.codec import pack, unpack
from loupe.server.app import create_app
from loupe.server.origins import origin_allowed
from tests.server.conftest import LOCAL_WS, Server


def test_health_and_model(server: Server) -> None:
    health = httpx.get(f"{server.http}/api/health", timeout=5).json()
    assert health["status"] == "ok" and health["protocol"] == 1
    info = httpx.get(f"{server.http}/api/model", timeout=5).json()
    assert info["n_layers"] == 4 and "blocks.0.attn.hook_pattern" in info["hook_points"]
    assert info["limits"]["max_prompt_tokens"] == 48


def test_static_spa(tiny: loupe.HookedModel, tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<title>Loupe</title>")
    with TestClient(create_app(tiny, static=tmp_path), base_url="http://localhost") as client:
        assert "Loupe" in client.get("/").text
        assert client.get("/api/health").json()["status"] == "ok"


def test_token_required_when_set(tiny: loupe.HookedModel) -> None:
    with TestClient(create_app(tiny, token="s3cret"), base_url="http://localhost") as client:
        with client.websocket_connect(LOCAL_WS) as ws:
            ws.send_bytes(pack({"type": "hello", "protocol": 1, "token": "wrong"}))
            assert unpack(ws.receive_bytes())["code"] == "unauthorized"
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_bytes()
            assert closed.value.code == 4401
        with client.websocket_connect(LOCAL_WS) as ws:
            ws.send_bytes(pack({"type": "hello", "protocol": 1, "token": "s3cret"}))
            assert unpack(ws.receive_bytes())["type"] == "welcome"


def test_origin_check(tiny: loupe.HookedModel) -> None:
    assert origin_allowed(None, "127.0.0.1:8000")
    assert origin_allowed("http://localhost:5173", "127.0.0.1:8000")  # the dev server on loopback
    assert origin_allowed("https://lab.example:443", "lab.example:8000")
    assert not origin_allowed("https://evil.example", "127.0.0.1:8000")
    with (
        TestClient(create_app(tiny), base_url="http://localhost") as client,
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect(LOCAL_WS, headers={"origin": "https://evil.example"}) as ws,
    ):
        ws.receive_bytes()
