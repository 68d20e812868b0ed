"""Scaling out on Ray Serve: run throughput through the balancer with 1 and with 2 replicas of the model.

    .venv/bin/loupe bench --only scale_out [--quick] --json bench/results/scale_out.json

Both deployments run at once on one local Ray cluster (the 1-replica app on one port, the 2-replica app on
another); rounds alternate between them, so machine noise hits both alike. A round is `sessions` concurrent
WebSocket sessions, each sending `runs` runs one after another (summaries off, top-5), measured at the
client from the first `run` to the last `done`. The ratio is the median over rounds of 2-replica throughput
over 1-replica throughput. Replicas on one machine share its cores: on a 2-core CPU there is little to gain
(each replica's batched forward already uses both cores); the ratio shows what a second device or node buys.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import msgpack
import ray
import websockets

import loupe
from loupe.bench.common import machine
from loupe.scale.run import deployed, start_ray
from loupe.scale.spec import ScaleSpec
from loupe.wire import PROTOCOL_VERSION

PORTS = {1: 8703, 2: 8704}  # 1 replica, 2 replicas
PROMPT = "When Mary and John went to the store, John gave a drink to"


async def session(url: str, runs: int) -> int:
    """One session sending `runs` runs in a row; returns how many finished."""
    async with websockets.connect(url, max_size=1 << 28, compression=None, open_timeout=60) as ws:
        await ws.send(msgpack.packb({"type": "hello", "protocol": PROTOCOL_VERSION}))
        assert msgpack.unpackb(await ws.recv())["type"] == "welcome"
        done = 0
        for i in range(runs):
            await ws.send(msgpack.packb({"type": "run", "id": i, "prompt": PROMPT, "top_k": 5, "summaries": False}))
            while (msg := msgpack.unpackb(await ws.recv()))["type"] not in ("done", "error"):
                pass
            assert msg["type"] == "done", msg
            done += 1
        return done


async def round_throughput(url: str, sessions: int, runs: int) -> float:
    """Runs per second of `sessions` concurrent sessions."""
    start = time.perf_counter()
    finished = await asyncio.gather(*(session(url, runs) for _ in range(sessions)))
    return sum(finished) / (time.perf_counter() - start)


def measure(sessions: int, runs: int, rounds: int) -> dict[int, list[float]]:
    urls = {n: f"ws://127.0.0.1:{port}/ws" for n, port in PORTS.items()}
    asyncio.run(round_throughput(urls[1], 2, 1))  # warm up both (first runs allocate)
    asyncio.run(round_throughput(urls[2], 2, 1))
    out: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for n, url in urls.items():
            out[n].append(asyncio.run(round_throughput(url, sessions, runs)))
    return out


def run(model: loupe.HookedModel | None = None, quick: bool = False) -> dict[str, Any]:
    sessions, runs, rounds = (4, 3, 3) if quick else (8, 6, 5)
    start_ray(None, num_cpus=2)
    try:
        with (
            deployed(ScaleSpec(replicas=1, port=PORTS[1], num_cpus=0.5), name="loupe-1"),
            deployed(ScaleSpec(replicas=2, port=PORTS[2], num_cpus=0.5), name="loupe-2"),
        ):
            tput = measure(sessions, runs, rounds)
    finally:
        ray.shutdown()
    ratios = [b / a for a, b in zip(tput[1], tput[2], strict=True)]
    return {
        "model": model.cfg.name if model is not None else "embedded",
        "sessions": sessions,
        "runs_per_session": runs,
        "rounds": rounds,
        "runs_per_s_1_replica": round(statistics.median(tput[1]), 2),
        "runs_per_s_2_replicas": round(statistics.median(tput[2]), 2),
        "ratio_2_over_1": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "machine": machine(),
    }


def report(result: dict[str, Any]) -> str:
    return (
        f"{result['sessions']} sessions x {result['runs_per_session']} runs, {result['rounds']} interleaved rounds: "
        f"1 replica {result['runs_per_s_1_replica']} runs/s, 2 replicas {result['runs_per_s_2_replicas']} runs/s, "
        f"ratio {result['ratio_2_over_1']}x"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(report(run(quick=parser.parse_args().quick)))
