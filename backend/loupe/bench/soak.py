"""Soak test: a mix of clients hammers one loopback server for a bounded time; errors and memory over time.

    .venv/bin/python -m loupe.bench.soak [--seconds 180] [--clients 8] [--model NAME]

Each client loops, picking at random (seeded): a run with its own random interventions, a steered
generation, a run cancelled right after it is sent, a connection dropped in the middle of a run, or a
burst of junk frames (each must get exactly one `error`). Every `--every` seconds the table gets a row:
server RSS (this process: the server runs in a thread here, the clients are small), sessions, queued
jobs, runs waiting in the scheduler, batched forward passes and operations so far. At the end the
server must be idle (no jobs, nothing pending, no sessions) and memory should be flat after warm-up.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgpack

import loupe
from loupe.server.background import serving
from loupe.server.limits import Limits
from loupe.wire import PROTOCOL_VERSION

PROMPTS = [
    "When Mary and John went to the store, John gave a drink to",
    "The capital of France is",
    "def fibonacci(n):",
    "Once upon a time, in a small village,",
    "The quick brown fox jumps over the lazy",
]
BEHAVIOURS = ("run", "run", "run", "generate", "cancel", "disconnect", "junk")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Session:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.n = 0

    @classmethod
    async def open(cls, url: str) -> Session:
        import websockets

        s = cls(await websockets.connect(url, max_size=1 << 30))
        await s.send({"type": "hello", "protocol": PROTOCOL_VERSION})
        assert (await s.recv())["type"] == "welcome"
        return s

    async def send(self, msg: dict[str, Any]) -> None:
        await self.ws.send(msgpack.packb(msg))

    async def recv(self) -> dict[str, Any]:
        msg: dict[str, Any] = msgpack.unpackb(await asyncio.wait_for(self.ws.recv(), 60))
        return msg

    def next_id(self) -> int:
        self.n += 1
        return self.n

    async def final(self, rid: int) -> dict[str, Any]:
        """The final frame (done, error or the single reply) of request `rid`."""
        return (await self.finals({rid}))[rid]

    async def finals(self, rids: set[int]) -> dict[int, dict[str, Any]]:
        """The final frames of several requests, in whatever order they come."""
        out: dict[int, dict[str, Any]] = {}
        while len(out) < len(rids):
            msg = await self.recv()
            if msg.get("id") in rids and msg["type"] not in ("run.tokens", "run.layer", "run.result", "gen.token"):
                out[msg["id"]] = msg
        return out


def random_interventions(rng: random.Random, n_layers: int, n_heads: int) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(rng.randrange(0, 3)):
        layer = rng.randrange(n_layers)
        items.append(
            rng.choice(
                [
                    {"op": "ablate", "hook": f"blocks.{layer}.attn.hook_z", "head": rng.randrange(n_heads)},
                    {"op": "ablate", "hook": f"blocks.{layer}.hook_mlp_out", "positions": [-1]},
                    {"op": "ablate", "hook": f"blocks.{layer}.hook_resid_post", "mode": "mean"},
                ]
            )
        )
    return items


def junk(rng: random.Random) -> bytes | str:
    makers: list[Callable[[], bytes | str]] = [
        lambda: rng.randbytes(rng.randrange(1, 200)),
        lambda: msgpack.packb({"type": "run", "id": 1, "prompt": "x"})[: rng.randrange(1, 20)],
        lambda: msgpack.packb({"type": "nope", "id": 1}),
        lambda: msgpack.packb({"type": "run", "id": 1, "prompt": 5}),
        lambda: b"\x91" * 5000,
        lambda: "text frame",
        lambda: msgpack.packb({"type": "run", "id": "j", "tokens": [1] * 70000}),
    ]
    return rng.choice(makers)()


async def client(url: str, seed: int, deadline: float, stats: dict[str, Any], model: loupe.HookedModel) -> None:
    rng = random.Random(seed)
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    session: Session | None = None
    while time.monotonic() < deadline:
        kind = rng.choice(BEHAVIOURS)
        try:
            if session is None:
                session = await Session.open(url)
            s = session
            if kind in ("run", "cancel", "disconnect"):
                items = random_interventions(rng, n_layers, n_heads)
                rid = s.next_id()
                await s.send({"type": "interventions.set", "id": rid, "items": items})
                reply = await s.final(rid)
                assert reply["type"] == "interventions", reply
                rid = s.next_id()
                await s.send({"type": "run", "id": rid, "prompt": rng.choice(PROMPTS), "top_k": 5})
                if kind == "cancel":
                    await asyncio.sleep(rng.random() * 0.2)
                    cid = s.next_id()
                    await s.send({"type": "cancel", "id": cid, "target": rid})
                    finals = await s.finals({rid, cid})  # the cancel's reply may come before or after the done
                    assert finals[rid]["type"] == "done", finals
                    # `cancelled`, or not_found when the run had already finished
                    assert finals[cid]["type"] == "cancelled" or finals[cid].get("code") == "not_found", finals
                elif kind == "disconnect":
                    await asyncio.sleep(rng.random() * 0.2)
                    await s.ws.close()
                    session = None
                else:
                    done = await s.final(rid)
                    assert done["type"] == "done", done
            elif kind == "generate":
                rid = s.next_id()
                steer = [{"op": "ablate", "hook": f"blocks.{rng.randrange(n_layers)}.hook_mlp_out"}]
                await s.send({"type": "interventions.set", "id": rid, "items": steer})
                await s.final(rid)
                rid = s.next_id()
                prompt = rng.choice(PROMPTS)
                await s.send({"type": "generate", "id": rid, "prompt": prompt, "max_new_tokens": 8, "compare": True})
                done = await s.final(rid)
                assert done["type"] == "done", done
            else:
                burst = [junk(rng) for _ in range(20)]
                for frame in burst:
                    await s.ws.send(frame)
                for _ in burst:
                    reply = await s.recv()
                    assert reply["type"] == "error" and reply["code"] != "internal", reply
            stats["ops"][kind] = stats["ops"].get(kind, 0) + 1
        except Exception as exc:  # counted, then the client starts over on a new connection
            stats["errors"][kind] = stats["errors"].get(kind, 0) + 1
            stats["last_errors"].append(f"{kind}: {type(exc).__name__}: {str(exc)[:120]}")
            del stats["last_errors"][:-5]
            if session is not None:
                await session.ws.close()
            session = None
    if session is not None:
        await session.ws.close()


async def _soak(url: str, model: loupe.HookedModel, seconds: float, clients: int, every: float) -> dict[str, Any]:
    health_url = url.replace("ws://", "http://").removesuffix("/ws") + "/api/health"
    stats: dict[str, Any] = {"ops": {}, "errors": {}, "last_errors": []}
    start = time.monotonic()
    deadline = start + seconds
    tasks = [asyncio.create_task(client(url, i, deadline, stats, model)) for i in range(clients)]
    samples: list[dict[str, Any]] = []
    async with httpx.AsyncClient(timeout=10) as http:

        async def sample() -> None:
            h = (await http.get(health_url)).json()
            row = {
                "t_s": round(time.monotonic() - start, 1),
                "rss_mb": round(rss_mb(), 1),
                "sessions": h["sessions"],
                "jobs": h["jobs"],
                "pending": h["pending"],
                "batches": h["batches"],
                "ops": sum(stats["ops"].values()),
                "errors": sum(stats["errors"].values()),
            }
            samples.append(row)
            print(_row(row), flush=True)

        print(_header(), flush=True)
        await sample()
        while not all(t.done() for t in tasks):
            await asyncio.wait(tasks, timeout=every)
            await sample()
        await asyncio.gather(*tasks)
        idle_deadline = time.monotonic() + 10  # after the clients are gone the server must drain to idle
        while True:
            h = (await http.get(health_url)).json()
            if (h["jobs"], h["pending"], h["sessions"]) == (0, 0, 0) or time.monotonic() > idle_deadline:
                break
            await asyncio.sleep(0.1)
    warm = samples[min(2, len(samples) - 1)]["rss_mb"]
    return {
        **stats,
        "samples": samples,
        "idle_at_end": (h["jobs"], h["pending"], h["sessions"]) == (0, 0, 0),
        "rss_growth_after_warmup_mb": round(samples[-1]["rss_mb"] - warm, 1),
    }


def _header() -> str:
    return (
        f"{'t s':>6} {'RSS MB':>8} {'sessions':>8} {'jobs':>5} {'pending':>7} {'batches':>8} {'ops':>6} {'errors':>6}"
    )


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['t_s']:>6} {r['rss_mb']:>8} {r['sessions']:>8} {r['jobs']:>5} {r['pending']:>7} {r['batches']:>8}"
        f" {r['ops']:>6} {r['errors']:>6}"
    )


def run(
    model: loupe.HookedModel,
    quick: bool = False,
    seconds: float | None = None,
    clients: int = 8,
    every: float | None = None,
) -> dict[str, Any]:
    seconds = seconds if seconds is not None else (30 if quick else 180)
    every = every if every is not None else max(2.0, seconds / 12)
    limits = Limits(max_new_tokens=32)
    with serving(model, limits) as url:
        result = asyncio.run(_soak(url, model, seconds, clients, every))
    return {"name": "soak", "model": model.cfg.name, "seconds": seconds, "clients": clients, **result}


def report(result: dict[str, Any]) -> str:
    lines = [f"soak: {result['clients']} clients for {result['seconds']} s on {result['model']}", _header()]
    lines += [_row(r) for r in result["samples"]]
    lines.append("operations: " + ", ".join(f"{k} {v}" for k, v in sorted(result["ops"].items())))
    lines.append("errors: " + (", ".join(f"{k} {v}" for k, v in sorted(result["errors"].items())) or "none"))
    lines += [f"  {e}" for e in result["last_errors"]]
    lines.append(
        f"idle at the end: {result['idle_at_end']}; RSS growth after warm-up: {result['rss_growth_after_warmup_mb']} MB"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--every", type=float, default=None, help="seconds between table rows")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    result = run(loupe.load(args.model), seconds=args.seconds, clients=args.clients, every=args.every)
    print(report(result))
    raise SystemExit(0 if not result["errors"] and result["idle_at_end"] else 1)


if __name__ == "__main__":
    main()
