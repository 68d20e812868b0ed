"""Freed memory kept by worker threads' arenas is shared and goes back to the OS (issue 10: the soak's RSS grew).

By default glibc gives each thread that allocates concurrently its own arena, and with the trim threshold that
`keep_freed_memory` sets no arena ever shrinks: four threads that each allocate and free 48 MB in turn keep
4 x 48 MB (194 MB measured). With the arenas capped they reuse each other's; `release_freed_memory` hands
the rest back. Measured on the RSS of a fresh process, so nothing else runs in it.
"""

from __future__ import annotations

import ctypes.util
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import loupe
from loupe.engine import allocator

glibc = pytest.mark.skipif(
    sys.platform != "linux" or ctypes.util.find_library("c") is None, reason="glibc's allocator only"
)

# Four threads, all alive, each in its turn allocates 48 MB in 1 MB tensors and frees them.
SCRIPT = """
import json, sys, threading, torch
from loupe.engine.allocator import keep_freed_memory, release_freed_memory

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

applied = keep_freed_memory()
turns = [threading.Event() for _ in range(5)]
end = threading.Event()

def worker(i):
    turns[i].wait()
    held = [torch.ones(1 << 18) for _ in range(48)]
    del held
    turns[i + 1].set()
    end.wait()

threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
for t in threads:
    t.start()
start = rss_mb()
turns[0].set()
turns[4].wait()
kept = rss_mb() - start
if sys.argv[1] == "release":
    release_freed_memory()
left = rss_mb() - start
end.set()
for t in threads:
    t.join()
print(json.dumps({"applied": applied, "kept_mb": kept, "left_mb": left}))
"""


def run_script(mode: str, script: str = SCRIPT) -> dict[str, float]:
    backend = str(Path(loupe.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([backend, os.environ.get("PYTHONPATH", "")])}
    env.pop("MALLOC_ARENA_MAX", None)
    out = subprocess.run([sys.executable, "-c", script, mode], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    got: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["applied"]
    return got


@glibc
def test_threads_share_freed_memory_and_release_gives_it_back() -> None:
    kept = run_script("keep")
    assert 48 < kept["left_mb"] < 3 * 48, kept  # kept (no page faults next time), but not an arena per thread
    released = run_script("release")
    assert released["left_mb"] < 48, released


def test_release_periodically_calls_release_until_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = threading.Semaphore(0)
    monkeypatch.setattr(allocator, "release_freed_memory", lambda: calls.release() or True)
    stop = threading.Event()
    thread = allocator.release_periodically(0.01, stop)
    assert all(calls.acquire(timeout=60) for _ in range(3))
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive()


# A 64 MB block after `keep_freed_memory(mmap_bytes=...)`: mmapped (glibc's mallinfo2 `hblkhd` grows) or on the heap.
BIG_BLOCK = """
import ctypes, json, sys, torch
from loupe.engine.allocator import SERVER_MMAP_BYTES, keep_freed_memory

class MallInfo2(ctypes.Structure):
    names = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"
    _fields_ = [(n, ctypes.c_size_t) for n in names.split()]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
applied = keep_freed_memory(mmap_bytes=SERVER_MMAP_BYTES) if sys.argv[1] == "server" else keep_freed_memory()
before = libc.mallinfo2().hblkhd
block = torch.ones(16 << 20)  # 64 MB
print(json.dumps({"applied": applied, "kept_mb": 0, "left_mb": (libc.mallinfo2().hblkhd - before) / 2**20}))
"""


@glibc
def test_a_server_serves_big_blocks_by_mmap() -> None:
    """The server's threshold: a 64 MB block (a batch's lens logits) is mmapped, so freeing it returns it to the
    OS and it never extends the heap past long-lived small blocks; the library's default keeps it on the heap."""
    assert run_script("server", BIG_BLOCK)["left_mb"] >= 64
    assert run_script("library", BIG_BLOCK)["left_mb"] < 1
