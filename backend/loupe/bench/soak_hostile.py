"""Hostile soak: normal, heavy, slow-reading and malicious sessions against one server; its RSS each minute.

    .venv/bin/python -m loupe.bench.soak_hostile [--minutes 30] [--warmup 5] [--port 8150] [--model NAME]

The server runs as its own process (`loupe serve` on loopback), so its RSS is the server's alone. Against
it, at the same time: the mixed clients of loupe.bench.soak (runs with interventions, generation, cancels,
dropped connections, junk frames); a session making steering vectors from 8 prompts of 256 tokens; a
session running analyses; clients that ask for big captures and stop reading (the server must drop them
with 1008 and free their sessions); and clients sending what an attacker would (NaN and oversized
values, malformed tensors, reused ids), each of which must get its `error`. Every minute: server RSS (at
that instant, and the mean and maximum of samples every 5 s over the minute), sessions, jobs and counts.
Reported: RSS growth from the end of the warm-up to the end (target < 10 %), along the least-squares line
through the minute means (a single sample swings with the work in flight), and between the two end samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import msgpack
import websockets

from loupe.bench.common import RESULTS
from loupe.bench.soak import Session, client
from loupe.client import Client, ServerError
from loupe.wire import PROTOCOL_VERSION

FILLER = "When Mary and John went to the store, John gave a drink to Mary. " * 24
BAD_FRAMES: list[dict[str, Any]] = [
    {"type": "interventions.add", "item": {"op": "steer", "hook": "blocks.0.hook_resid_post", "scale": float("nan")}},
    {"type": "interventions.add", "item": {"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 99}},
    {"type": "vectors.save", "name": "v", "vector": {"dtype": "f32", "shape": [2**31, 2**31, 0], "data": b""}},
    {"type": "vectors.save", "name": "v", "vector": {"dtype": "f32", "shape": [1] * 5000, "data": b"\0" * 4}},
    {"type": "vectors.save", "name": "v", "vector": {"dtype": "f32", "shape": [3], "data": b"\0" * 12}},
    {"type": "run", "prompt": "x" * 70_000},
    {"type": "generate", "prompt": "x", "top_p": 0},
]


def server_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def count(stats: dict[str, Any], kind: str, ok: bool, detail: str = "") -> None:
    key = "ops" if ok else "errors"
    stats[key][kind] = stats[key].get(kind, 0) + 1
    if not ok:
        stats["last_errors"] = [*stats["last_errors"][-4:], f"{kind}: {detail[:120]}"]


async def heavy(url: str, deadline: float, stats: dict[str, Any]) -> None:
    async with Client(url, timeout=600) as c:
        prompts = [f"Story {i}. {FILLER}"[:1000] for i in range(8)]
        while time.monotonic() < deadline:
            try:
                await c.vector_from_prompts("v", prompts[:4], prompts[4:], layer=10)
                count(stats, "from_prompts", True)
            except ServerError as exc:
                count(stats, "from_prompts", False, str(exc))


async def analyst(url: str, deadline: float, stats: dict[str, Any]) -> None:
    async with Client(url, timeout=600) as c:
        prompt = "When Mary and John went to the store, John gave a drink to"
        corrupt = "When Mary and John went to the store, Mary gave a drink to"
        while time.monotonic() < deadline:
            try:
                await c.analyze("logit_lens", prompt=prompt, k=5)
                await c.analyze("patch", prompt=prompt, corrupt=corrupt, answer=" Mary", wrong=" John", over="layers")
                count(stats, "analyze", True)
            except ServerError as exc:
                count(stats, "analyze", False, str(exc))


async def slow_reader(url: str, deadline: float, stats: dict[str, Any]) -> None:
    """Ask for big captures, never read; the server must drop the connection (close 1008 or abort)."""
    big: dict[str, Any] = {"type": "run", "prompt": FILLER[:1500], "capture": ["blocks.*.hook_resid_post"]}
    big["dtype"] = "f32"
    big["summaries"] = False  # output volume is the point, not the CPU-heavy logit lens
    while time.monotonic() < deadline:
        ws = await websockets.connect(url, max_size=1 << 30, max_queue=1, ping_interval=None)
        await ws.send(msgpack.packb({"type": "hello", "protocol": PROTOCOL_VERSION}))
        await ws.recv()
        sent, started = 0, time.monotonic()
        try:
            while time.monotonic() - started < 120:
                await ws.send(msgpack.packb({**big, "id": sent}))
                sent += 1
                await asyncio.sleep(0.5)
            count(stats, "slow_reader", False, "not dropped within 120 s")
        except websockets.ConnectionClosed:
            count(stats, "slow_reader", True)
        finally:
            await ws.close()


async def attacker(url: str, deadline: float, stats: dict[str, Any]) -> None:
    """Bad values, malformed tensors and reused ids: each must get its error, the session must go on."""
    s = await Session.open(url)
    while time.monotonic() < deadline:
        try:
            for frame in BAD_FRAMES:
                rid = s.next_id()
                await s.send({**frame, "id": rid})
                reply = await s.final(rid)
                assert reply["type"] == "error" and reply["code"] != "internal", reply
            rid = s.next_id()
            await s.send({"type": "run", "id": rid, "prompt": FILLER[:200]})
            await s.send({"type": "run", "id": rid, "prompt": "again"})
            dup = await s.final(rid)
            done = await s.final(rid)
            assert dup.get("code") == "duplicate_id" and done["type"] == "done", (dup, done)
            count(stats, "attacker", True)
        except (AssertionError, websockets.ConnectionClosed, TimeoutError) as exc:
            count(stats, "attacker", False, repr(exc))
            await s.ws.close()
            s = await Session.open(url)
        await asyncio.sleep(1.0)
    await s.ws.close()


async def monitor(http: str, pid: int, deadline: float, stats: dict[str, Any], every: float) -> None:
    """A row each `every` seconds, its RSS also averaged over samples each `every / 12` s since the last row."""
    start = time.monotonic()
    rss: list[float] = [server_rss_mb(pid)]
    while True:
        health = (await asyncio.to_thread(httpx.get, f"{http}/api/health", timeout=30)).json()
        row = {
            "minute": round((time.monotonic() - start) / 60, 2),
            "rss_mb": round(rss[-1], 1),
            "rss_mean_mb": round(statistics.fmean(rss), 1),
            "rss_max_mb": round(max(rss), 1),
            "sessions": health["sessions"],
            "jobs": health["jobs"],
            "ops": sum(stats["ops"].values()),
            "errors": sum(stats["errors"].values()),
        }
        stats["samples"].append(row)
        print(json.dumps(row), flush=True)
        if time.monotonic() >= deadline:
            return
        rss = []
        row_at = time.monotonic() + min(every, max(0.0, deadline - time.monotonic()))
        while not rss or time.monotonic() < row_at:
            await asyncio.sleep(max(0.0, min(every / 12, row_at - time.monotonic())))
            rss.append(server_rss_mb(pid))


def growth(samples: list[dict[str, Any]], warmup: float) -> dict[str, float]:
    """RSS growth after `warmup` minutes: along the least-squares line through the rows' minute means, and between
    the two single samples at the ends (which swing with the work in flight at that instant)."""
    after = [s for s in samples if s["minute"] >= warmup] or samples[-1:]
    line = statistics.linear_regression([s["minute"] for s in after], [s["rss_mean_mb"] for s in after])
    at_warm = line.intercept + line.slope * after[0]["minute"]
    at_end = line.intercept + line.slope * after[-1]["minute"]
    return {
        "rss_growth_after_warmup": round((at_end - at_warm) / at_warm, 4) if len(after) > 1 else 0.0,
        "rss_growth_endpoints": round((after[-1]["rss_mb"] - after[0]["rss_mb"]) / after[0]["rss_mb"], 4),
    }


async def soak(url: str, http: str, pid: int, minutes: float, clients: int, slow: int) -> dict[str, Any]:
    stats: dict[str, Any] = {"ops": {}, "errors": {}, "last_errors": [], "samples": []}
    deadline = time.monotonic() + minutes * 60
    info = (await asyncio.to_thread(httpx.get, f"{http}/api/model", timeout=30)).json()
    model = SimpleNamespace(cfg=SimpleNamespace(n_layers=info["n_layers"], n_heads=info["n_heads"]))
    tasks = [client(url, seed, deadline, stats, model) for seed in range(clients)]  # type: ignore[arg-type]
    tasks += [heavy(url, deadline, stats), analyst(url, deadline, stats), attacker(url, deadline, stats)]
    tasks += [slow_reader(url, deadline, stats) for _ in range(slow)]
    await asyncio.gather(monitor(http, pid, deadline, stats, 60.0), *tasks)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="minutes before RSS growth is counted")
    parser.add_argument("--clients", type=int, default=4, help="mixed clients of loupe.bench.soak")
    parser.add_argument("--slow-readers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8150)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=str(RESULTS / "soak_hostile.json"))
    args = parser.parse_args()
    cmd = [sys.executable, "-c", "from loupe.cli import main; raise SystemExit(main())", "serve"]
    cmd += ["--port", str(args.port)] + (["--model", args.model] if args.model else [])
    server = subprocess.Popen(cmd, env={**os.environ})
    http, url = f"http://127.0.0.1:{args.port}", f"ws://127.0.0.1:{args.port}/ws"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{http}/api/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        stats = asyncio.run(soak(url, http, server.pid, args.minutes, args.clients, args.slow_readers))
        health = httpx.get(f"{http}/api/health", timeout=30).json()
    finally:
        server.terminate()
        server.wait(30)
    result = {
        "bench": "soak_hostile",
        "minutes": args.minutes,
        "warmup_minutes": args.warmup,
        **growth(stats["samples"], args.warmup),
        "target_growth": 0.10,
        "sessions_at_end": health["sessions"],
        "jobs_at_end": health["jobs"],
        **stats,
    }
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}, indent=1))


if __name__ == "__main__":
    main()
