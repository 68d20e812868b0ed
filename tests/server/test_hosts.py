"""DNS rebinding and Origin tricks against a loopback server: raw handshakes with forged headers."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest
from starlette.testclient import TestClient

import loupe
from loupe import cli
from loupe.server.app import create_app
from loupe.server.origins import host_allowed, host_name, host_policy, origin_allowed, parse_origin
from tests.server.conftest import Server


def handshake(url: str, host: str, origin: str | None = None) -> int:
    """The HTTP status of a WebSocket upgrade to `url` sent with the given Host and Origin headers."""
    parts = urlsplit(url)
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status = sock.recv(4096).split(b"\r\n", 1)[0]
    return int(status.split()[1])


def test_dns_rebinding_is_refused(server: Server) -> None:
    port = urlsplit(server.url).port
    evil = f"evil.example:{port}"
    assert handshake(server.url, evil, f"http://{evil}") == 403
    assert handshake(server.url, evil) == 403
    assert httpx.get(f"{server.http}/api/model", headers={"host": evil}, timeout=5).status_code == 403
    for local in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
        assert handshake(server.url, local) == 101, local
    assert handshake(server.url, f"127.0.0.1:{port}", f"http://localhost:{port}") == 101


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:{port}.evil.example",
        "http://evil.example@127.0.0.1:{port}",
        "http://user:pw@localhost:{port}",
        "http://127.0.0.1:{port}/path",
        "file://127.0.0.1",
        "null",
        "http://evil.example",
    ],
)
def test_origin_tricks_are_refused(server: Server, origin: str) -> None:
    port = urlsplit(server.url).port
    assert handshake(server.url, f"127.0.0.1:{port}", origin.format(port=port)) == 403


def test_origin_parsing_is_strict() -> None:
    assert parse_origin("https://Lab.Example.org") == parse_origin("https://lab.example.org:443")
    for bad in ("http://a.example:80.evil.example", "http://x@a.example", "ftp://a.example", "http://", "http://a?b"):
        assert parse_origin(bad) is None, bad
    assert not origin_allowed("http://127.0.0.1:8000.evil.example", "127.0.0.1:8000")
    assert not origin_allowed("http://evil.example@127.0.0.1:8000", "127.0.0.1:8000")
    assert origin_allowed("http://[::1]:5173", "localhost:8000")


def test_host_names() -> None:
    assert host_name("LocalHost:8000") == "localhost" and host_name("[::1]:80") == "::1"
    for bad in (None, "", "a@localhost", "localhost:80.evil.example", "localhost/x", "localhost:x"):
        assert host_name(bad) is None, bad
    loopback_only = host_policy("127.0.0.1")
    assert loopback_only == frozenset()
    assert host_allowed("127.0.0.2:9", loopback_only) and not host_allowed("lab.example", loopback_only)
    assert host_policy("0.0.0.0") is None  # a public bind needs a token; any Host
    assert host_allowed("lab.example:443", host_policy("127.0.0.1", ["Lab.Example"]))


def test_allow_host_option(tiny: loupe.HookedModel, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    started: dict[str, object] = {}
    monkeypatch.setattr(loupe, "load", lambda name, device="cpu": tiny)
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app))
    monkeypatch.setenv("LOUPE_ALLOWED_HOSTS", "ignored.example")
    assert cli.main(["serve", "--no-sae", "--allow-host", "proxy.example"]) == 0  # tiny lacks res10's hook
    with TestClient(started["app"], base_url="http://proxy.example:8080") as client:  # type: ignore[arg-type]
        assert client.get("/api/health").status_code == 200
    with TestClient(started["app"], base_url="http://ignored.example") as client:  # type: ignore[arg-type]
        assert client.get("/api/health").status_code == 403
    monkeypatch.delenv("LOUPE_ALLOWED_HOSTS")
    with TestClient(create_app(tiny, bind="127.0.0.1"), base_url="http://rebound.example") as client:
        assert client.get("/api/health").status_code == 403
