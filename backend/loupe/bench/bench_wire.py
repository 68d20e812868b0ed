"""Wire benchmarks: bytes per run (msgpack f16 vs the same data as JSON) and time to the first layer frame.

    .venv/bin/python -m loupe.bench.bench_wire [--quick]

Targets (DESIGN.md): msgpack f16 <= 0.3x the JSON bytes; the first run.layer frame arrives before 15% of
the run's time (measured at the client, from sending `run` to receiving `done`, over a loopback socket);
a default UI run (`summaries: true`, top_k 10, T = 64) <= 1.5x the plain Hugging Face forward of the same
tokens, timed interleaved with it: the server is `loupe serve` in a child process (`child_server` says why),
the plain forward runs in this one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import msgpack
import orjson
import torch

import loupe
from loupe.bench.child_server import child_server
from loupe.bench.common import machine, plain_hf, sync, tokens_of_length
from loupe.codec import to_json, unpack
from loupe.server.limits import Limits
from loupe.wire import PROTOCOL_VERSION


async def _run_frames(url: str, request: dict[str, Any]) -> list[tuple[float, bytes]]:
    """Send one request on a fresh session; (seconds since sending, raw frame) for each of its frames."""
    import websockets

    async with websockets.connect(url, max_size=1 << 30) as ws:
        await ws.send(msgpack.packb({"type": "hello", "protocol": PROTOCOL_VERSION}))
        await ws.recv()
        start = time.perf_counter()
        await ws.send(msgpack.packb(request))
        frames: list[tuple[float, bytes]] = []
        while True:
            raw = await ws.recv()
            assert isinstance(raw, bytes)
            frames.append((time.perf_counter() - start, raw))
            kind = msgpack.unpackb(raw)["type"]
            if kind in ("done", "error"):
                assert kind == "done", msgpack.unpackb(raw)
                return frames


def _sizes(frames: list[tuple[float, bytes]]) -> tuple[int, int]:
    """(msgpack bytes, bytes of the same messages as JSON with tensors as number arrays)."""
    packed = sum(len(raw) for _, raw in frames)
    as_json = sum(len(orjson.dumps(to_json(unpack(raw, _BIG)))) for _, raw in frames)
    return packed, as_json


_BIG = Limits(max_message_bytes=1 << 30, max_str_len=1 << 30, max_array_len=1 << 24).unpack()


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    repeats = 3 if quick else 7
    lengths = (16, 64) if quick else (16, 64, 256)
    out: dict[str, Any] = {"machine": machine(), "model": model.cfg.name, "bytes": {}, "first_layer": {}}
    with child_server(model) as url:
        for n in lengths:
            tokens = tokens_of_length(model, n)[0].tolist()
            for view, capture in (("default", []), ("patterns", ["blocks.*.attn.hook_pattern"])):
                frames = asyncio.run(_run_frames(url, {"type": "run", "id": 1, "tokens": tokens, "capture": capture}))
                packed, as_json = _sizes(frames)
                out["bytes"][f"T={n} {view}"] = {"msgpack": packed, "json": as_json, "ratio": packed / as_json}
        ids = tokens_of_length(model, 64)
        tokens = ids[0].tolist()
        hf = plain_hf(model)
        variants: dict[str, Any] = {"default": True, "no_lens": ["resid_norm", "attn"], "no_summaries": False}
        asyncio.run(_run_frames(url, {"type": "run", "id": 1, "tokens": tokens}))  # warm-up
        fractions: list[float] = []
        totals: dict[str, list[float]] = {k: [] for k in ("hf_forward", *variants)}
        for _ in range(repeats):  # interleaved, so machine noise hits every variant alike
            start = time.perf_counter()
            with torch.no_grad():
                hf(input_ids=ids)
            sync()
            totals["hf_forward"].append(time.perf_counter() - start)
            for name, summaries in variants.items():
                request = {"type": "run", "id": 1, "tokens": tokens, "top_k": 10, "summaries": summaries}
                frames = asyncio.run(_run_frames(url, request))
                totals[name].append(frames[-1][0])
                if name == "default":
                    first = next(t for t, raw in frames if msgpack.unpackb(raw)["type"] == "run.layer")
                    fractions.append(first / frames[-1][0])
    run_ms = {k: statistics.median(v) * 1000 for k, v in totals.items()}
    out["first_layer"] = {"T": 64, "fraction_of_run": statistics.median(fractions), "run_ms": run_ms, "target": 0.15}
    out["ui_default"] = {
        "T": 64,
        "ratio_to_hf": {k: v / run_ms["hf_forward"] for k, v in run_ms.items() if k != "hf_forward"},
        "target": 1.5,
    }
    out["worst_bytes_ratio"] = max(v["ratio"] for v in out["bytes"].values())
    out["bytes_target"] = 0.3
    return out


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{name:>18}: msgpack {b['msgpack']:>10,} B   json {b['json']:>11,} B   ratio {b['ratio']:.3f}"
        for name, b in result["bytes"].items()
    ]
    fl = result["first_layer"]
    ms = fl["run_ms"]
    lines.append(
        f"first run.layer at {fl['fraction_of_run']:.1%} of a {ms['default']:.0f} ms run (T={fl['T']}, target <= 15%)"
    )
    lines.append(f"run time at T={fl['T']}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in ms.items()))
    ratio = result["ui_default"]["ratio_to_hf"]
    cells = ", ".join(f"{k} {v:.2f}x" for k, v in ratio.items())
    lines.append(f"over the plain HF forward: {cells} (target 1.5x)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    print(report(run(loupe.load(args.model), quick=args.quick)))


if __name__ == "__main__":
    main()
