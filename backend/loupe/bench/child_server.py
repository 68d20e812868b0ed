"""A Loupe server in a child process, as `loupe serve` runs one, for benchmarks that time the plain Hugging Face
forward (or a bare-model analysis) next to the server's answers.

Why not a server thread in the benchmark's own process: once two threads of one process have each run
multi-threaded torch ops, libgomp manages more OpenMP threads than there are cores, and it then stops
spin-waiting between parallel regions; every small op pays a futex wake-up. A plain SmolLM2 forward of 64
tokens on the 2-core CI machine went from ~205 to ~297 ms while an idle thread that had once run a matmul
was alive (16 tokens: 107 -> 158 ms). In one process the baseline would be timed slower than a user's.
The child gets the same weights through a temporary checkpoint, so any model (a random checkpoint too) works.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

import loupe

START_S = 300.0  # loading a model in a fresh process (and on a GPU, its CUDA context) can take a while


@contextlib.contextmanager
def child_server(model: loupe.HookedModel, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """`loupe serve` of `model`'s weights on a free loopback port in a child process; yields its WebSocket URL."""
    with tempfile.TemporaryDirectory(prefix="loupe-bench-") as tmp:
        model.hf.save_pretrained(tmp)
        model.tokenizer.save_pretrained(tmp)
        port = _free_port()
        log = Path(tmp) / "serve.log"
        cmd = [sys.executable, "-m", "loupe.cli", "serve", "--model", tmp, "--port", str(port)]
        cmd += ["--device", str(model.device), *extra]
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(proc, f"http://127.0.0.1:{port}/api/health", log)
            yield f"ws://127.0.0.1:{port}/ws"
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the benchmark's loupe serve exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the benchmark's loupe serve did not answer {url} within {START_S:.0f} s")
