"""Fair scheduling: a normal run's latency while another session runs a long `vectors.from_prompts`.

    .venv/bin/python -m loupe.bench.fairness [--prompts 16] [--tokens 512] [--piece-tokens N] [--out FILE]

Session A asks for a steering vector from `--prompts` prompts of `--tokens` tokens (half positive, half
negative); meanwhile session B sends the web UI's default `run` of a short prompt, one after another.
Interleaved in `--rounds` rounds, so that a shared machine's noise hits both alike: B's runs alone,
then B's runs while A's job is going (A's job is then cancelled). Reported: the median of B's latency
under load as a ratio to its solo latency, and, once at the end, how long A's whole job takes.
Target (issue 10): ratio <= 2.
Everything goes through a real server on loopback (the Python client, WebSocket + msgpack).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

import loupe
from loupe.bench.common import RESULTS, machine
from loupe.client import Client
from loupe.engine.allocator import keep_freed_memory
from loupe.server.background import serving
from loupe.server.limits import Limits

PROMPT = "The Eiffel Tower is in the city of"
FILLER = "When Mary and John went to the store, John gave a drink to Mary. "


def long_prompts(model: loupe.HookedModel, n: int, tokens: int) -> list[str]:
    """`n` different prompts of `tokens` tokens each (BOS included when the model adds one)."""
    out = []
    for i in range(n):
        ids = model.to_tokens(f"Story {i}. " + FILLER * (tokens // 8 + 2))[0]
        text = model.tokenizer.decode(ids[:tokens], skip_special_tokens=True)
        while model.to_tokens(text).shape[1] > tokens:
            text = text[: -max(1, len(text) // 200)]
        out.append(text)
    return out


async def timed_run(c: Client) -> float:
    start = time.perf_counter()
    await c.run(PROMPT)
    return time.perf_counter() - start


async def solo(c: Client, n: int) -> list[float]:
    return [await timed_run(c) for _ in range(n)]


async def measure(url: str, prompts: list[str], rounds: int, per_round: int) -> dict[str, Any]:
    half = len(prompts) // 2
    async with Client(url, timeout=900) as a, Client(url, timeout=900) as b:
        for _ in range(2):
            await timed_run(b)  # warm up
        alone: list[float] = []
        loaded: list[float] = []
        for _ in range(rounds):
            alone += await solo(b, per_round)
            job = asyncio.create_task(a.vector_from_prompts("v", prompts[:half], prompts[half:], layer=15))
            await asyncio.sleep(1.0)  # the job is under way
            loaded += await solo(b, per_round)
            await a.cancel()
            await job
        start = time.perf_counter()
        await a.vector_from_prompts("v", prompts[:half], prompts[half:], layer=15)
        job_s = time.perf_counter() - start
    solo_s, loaded_s = statistics.median(alone), statistics.median(loaded)
    return {
        "solo_run_s": solo_s,
        "loaded_run_s": loaded_s,
        "loaded_run_p90_s": sorted(loaded)[int(0.9 * (len(loaded) - 1))],
        "ratio": loaded_s / solo_s,
        "runs_each": len(loaded),
        "job_s": job_s,
    }


def run(model: loupe.HookedModel, n_prompts: int, tokens: int, piece_tokens: int | None, rounds: int) -> dict[str, Any]:
    limits = Limits()
    if piece_tokens is not None:
        limits = dataclasses.replace(limits, piece_tokens=piece_tokens)
    prompts = long_prompts(model, n_prompts, tokens)
    with serving(model, limits) as url:
        result = asyncio.run(measure(url, prompts, rounds, per_round=4))
    return {
        "bench": "fairness",
        "model": model.cfg.name,
        "prompts": n_prompts,
        "prompt_tokens": tokens,
        "piece_tokens": limits.piece_tokens,
        "target_ratio": 2.0,
        "machine": machine(),
        **result,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--piece-tokens", type=int, default=None, help="override the server's piece_tokens")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default=None)
    parser.add_argument("--out", default=str(RESULTS / "fairness.json"))
    args = parser.parse_args()
    keep_freed_memory()
    result = run(loupe.load(args.model), args.prompts, args.tokens, args.piece_tokens, args.rounds)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
