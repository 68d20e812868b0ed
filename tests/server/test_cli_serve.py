"""`loupe serve` as a user starts it: a subprocess on a free loopback port, driven by the sync client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from loupe.client import SyncClient


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_loupe_serve_subprocess(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "LOUPE_STATIC": str(tmp_path)}  # no index.html there: the plain-text page
    proc = subprocess.Popen(
        [sys.executable, "-m", "loupe.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, "loupe serve did not come up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert "not built" in httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        with SyncClient(f"ws://127.0.0.1:{port}/ws") as c:
            assert c.model["name"] == "SmolLM2-135M-Instruct"
            out = c.run("The capital of France is", top_k=1)
            assert out.top_k[0]["str"] == " Paris"
    finally:
        proc.terminate()
        proc.wait(15)
