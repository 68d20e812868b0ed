"""Many users on one server, on loopback: isolation under batching, slow readers, fuzzed floods, auth and limits."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
import random
import time
from pathlib import Path
from typing import Any

import httpx
import msgpack
import numpy as np
import pytest
import torch
import websockets

from loupe.server.limits import Limits
from tests.server.conftest import Server, serve, slow_layers
from tests.server.test_slow_reader import connect_not_reading, sessions
from tests.server.wire import Raw, tensor

PROMPTS = [
    "The quick brown fox jumps over the lazy",
    "When Mary and John went to the store, John gave a drink to",
    "One two three four five",
    "A",
    "The capital of France is",
    "Interpretability is the study of",
]
HOOK = "blocks.3.hook_resid_post"


def health(server: Server) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{server.http}/api/health", timeout=5).json()
    return body


def rss_mb() -> float:
    """Resident memory of this process, which runs the server (uvicorn in a thread)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def interventions_for(i: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Session i's interventions: (as sent on the wire, as given to model.run). Every session differs."""
    vec = np.linspace(-1, 1, 64, dtype=np.float32) * (i + 1) / 4
    kind = i % 4
    if i == 0:
        return [], []
    if kind == 0:
        item = {"op": "ablate", "hook": f"blocks.{i % 8 // 2}.attn.hook_z", "head": i % 3, "mode": "zero"}
        return [item], [item]
    if kind == 1:
        item = {"op": "ablate", "hook": f"blocks.{i % 3}.hook_resid_post", "mode": "zero", "positions": [i % 3]}
        return [item], [item]
    steer = {"op": "steer", "hook": f"blocks.{i % 4}.hook_resid_post", "scale": float(i)}
    wire = [{**steer, "vector": tensor(vec)}]
    local = [{**steer, "vector": vec}]
    if kind == 3:  # two at once
        extra = {"op": "ablate", "hook": "blocks.2.hook_mlp_out", "mode": "zero"}
        wire, local = [*wire, extra], [*local, extra]
    return wire, local


async def test_sixteen_concurrent_sessions_get_their_solo_results(server: Server) -> None:
    model = server.model
    n = 16
    clients = [await Raw.connect(server.url) for _ in range(n)]
    local: list[list[dict[str, Any]]] = []
    for i, c in enumerate(clients):
        wire, loc = interventions_for(i)
        local.append(loc)
        [reply] = await c.request({"type": "interventions.set", "id": "iv", "items": wire})
        assert reply["type"] == "interventions", reply
    before = health(server)["batches"]

    async def session(i: int, c: Raw) -> list[list[dict[str, Any]]]:
        out = []
        for k in range(2):  # two runs each, back to back
            p = PROMPTS[(i + k) % len(PROMPTS)]
            msg = {"type": "run", "id": k, "prompt": p, "top_k": 5, "capture": [HOOK], "dtype": "f32"}
            out.append(await c.request(msg, streaming=True))
        return out

    with slow_layers(model, 0.01):  # keep the scheduler busy enough that runs queue up and share batches
        results = await asyncio.gather(*(session(i, c) for i, c in enumerate(clients)))
    batches = health(server)["batches"] - before
    runs = sum(1 for i in range(n) for _ in range(2))
    rows = runs + sum(2 for i in range(n) if local[i])  # clean rows of intervened runs
    assert batches < rows / 2, f"{batches} forward passes for {rows} rows: runs were not batched"
    for i, frames_per_run in enumerate(results):
        for k, frames in enumerate(frames_per_run):
            p = PROMPTS[(i + k) % len(PROMPTS)]
            assert frames[-1]["type"] == "done" and not frames[-1]["cancelled"], frames[-1]
            alone = model.run(p, capture=[HOOK], interventions=local[i])
            clean = model.run(p)
            result = next(f for f in frames if f["type"] == "run.result")
            assert [x["token"] for x in result["top_k"]] == [t for t, _ in alone.top_k(5)], (i, k)
            assert [x["token"] for x in result["clean"]] == [t for t, _ in clean.top_k(5)], (i, k)
            assert result["intervened"] is bool(local[i])
            np.testing.assert_allclose(
                [x["prob"] for x in result["top_k"]], [pr for _, pr in alone.top_k(5)], rtol=1e-4, atol=1e-6
            )
            layer3 = next(f for f in frames if f["type"] == "run.layer" and f["layer"] == 3)
            np.testing.assert_allclose(layer3["tensors"][HOOK], alone.cache[HOOK][0].numpy(), rtol=1e-4, atol=1e-4)
    for c in clients:
        await c.close()


async def test_slow_reader_is_dropped_while_others_continue(server: Server) -> None:
    """No timing assumed: the flood goes on until /api/health shows the slow session gone, however long that
    takes on a loaded machine, and every other session does at least 3 correct runs meanwhile."""
    # a long slow_client_timeout_s: the close frame waits for this test to read, however loaded the machine
    limits = dataclasses.replace(
        server.limits, max_outbound_bytes=512 << 10, max_outbound_frames=256, slow_client_timeout_s=300
    )
    model = server.model
    with serve(model, limits) as srv:
        slow = await connect_not_reading(srv.url)
        others = [await Raw.connect(srv.url) for _ in range(3)]
        assert await sessions(srv.http) == 4
        dropped = asyncio.Event()

        async def flood() -> int:
            """Ask for big captures (~1 MB per run) without ever reading the answers, until dropped."""
            sent = 0
            big = {"type": "run", "prompt": PROMPTS[1] * 3, "capture": ["blocks.*"], "dtype": "f32"}
            async with asyncio.timeout(300):  # only a guard: the drop comes after a few MB, not after a time
                while await sessions(srv.http) > 3:
                    await slow.send(msgpack.packb({**big, "id": sent}))
                    sent += 1
                    await asyncio.sleep(0.05)
            dropped.set()
            return sent

        async def user(c: Raw, i: int) -> int:
            expected = [t for t, _ in model.run(PROMPTS[i]).top_k(3)]
            done = 0
            while done < 3 or not dropped.is_set():
                frames = await c.request({"type": "run", "id": done, "prompt": PROMPTS[i], "top_k": 3}, True)
                result = next(f for f in frames if f["type"] == "run.result")
                assert [x["token"] for x in result["top_k"]] == expected
                done += 1
            return done

        sent, *done = await asyncio.gather(flood(), *(user(c, i) for i, c in enumerate(others)))
        assert sent >= 1 and all(d >= 3 for d in done), (sent, done)
        assert await sessions(srv.http) == 3
        # now read what the server flushed before it gave up on the slow client: it ends with close 1008
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(120):
                while True:
                    await slow.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008, closed.value
        assert closed.value.rcvd.reason == "client too slow"
        for c in others:
            assert await c.ping_ok()
            await c.close()


def fuzz_frames(rng: random.Random, count: int, max_bytes: int) -> list[bytes | str]:
    """`count` frames that are each wrong in some way; every one must get exactly one `error` reply."""
    good = msgpack.packb({"type": "run", "id": "r", "prompt": "hello there", "capture": ["blocks.0.*"], "top_k": 3})
    pickled = pickle.dumps(np.ones(3))  # bytes where a pickle-reading server would run code: must be inert
    head = b"\x84\xa4type\xa3run\xa2id\x01\xa6prompt\xa2hi\xa7capture"  # a run map whose capture is filled in below
    wrong_types: list[dict[str, Any]] = [
        {"type": 5, "id": 1},
        {"type": "run", "id": [1], "prompt": "x"},
        {"type": "run", "id": 1, "prompt": 123},
        {"type": "run", "id": 1, "prompt": "x", "top_k": "ten"},
        {"type": "run", "id": 1, "prompt": "x", "capture": 5},
        {"type": "run", "id": 1, "prompt": "x", "dtype": "f64"},
        {"type": "generate", "id": 1, "prompt": None},
        {"type": "interventions.set", "id": 1, "items": [{"op": "nope"}]},
        {"type": "interventions.set", "id": 1, "items": "all"},
        {"type": "vectors.save", "id": 1, "name": "v", "vector": {"dtype": "f32", "shape": [1 << 40], "data": b""}},
        {"type": "vectors.save", "id": 1, "name": "v", "vector": {"dtype": "f32", "shape": [3], "data": b"\0" * 7}},
        {"type": "vectors.save", "id": 1, "name": "v", "vector": {"dtype": "obj", "shape": [1], "data": b"\0"}},
        {"type": "vectors.save", "id": 1, "name": "p", "vector": {"dtype": "f32", "shape": [64], "data": pickled}},
        {"type": "cancel", "id": 1, "target": "nothing-running"},
        {"type": "runs.remove", "id": 1, "names": ["none"]},
        {"type": "attention.head", "id": 1, "layer": "x", "head": 0},
        {"type": "hello", "protocol": 1},  # a second hello
        {"type": "load_model", "id": 1, "path": "/tmp/evil.pt"},  # no such message: clients cannot load models
        {"type": "__proto__", "id": 1},
        {"id": 1},
        {b"type": b"run", "id": 1},
    ]
    frames: list[bytes | str] = []
    for _ in range(count):
        kind = rng.randrange(10)
        if kind == 0:  # random bytes (first byte forced off the fixmap range so it cannot be a valid map)
            frames.append(bytes([rng.choice([0xC1, 0x00, 0xFF, 0xA3, 0x93])]) + rng.randbytes(rng.randrange(0, 300)))
        elif kind == 1:  # truncated msgpack
            frames.append(good[: rng.randrange(1, len(good))])
        elif kind == 2:  # wrong types and values
            frames.append(msgpack.packb(rng.choice(wrong_types), use_bin_type=True))
        elif kind == 3:  # huge arrays: over max_array_len, or headers claiming 4G items / bytes
            frames.append(
                rng.choice(
                    [
                        msgpack.packb({"type": "run", "id": 2, "tokens": [1] * (65536 + rng.randrange(1, 50))}),
                        head + b"\xdd\xff\xff\xff\xff",
                        head + b"\xc6\xff\xff\xff\xff" + b"\0" * 16,
                        b"\xdf\xff\xff\xff\xff",
                    ]
                )
            )
        elif kind == 4:  # unknown message types
            frames.append(msgpack.packb({"type": "".join(rng.choices("abcxyz._", k=rng.randrange(1, 40))), "id": 3}))
        elif kind == 5:  # deep nesting
            depth = rng.choice([70, 500, 5000, 50000])
            frames.append(head + b"\x91" * depth + b"\xc0")
        elif kind == 6:  # oversized frames
            frames.append(rng.randbytes(max_bytes + rng.randrange(1, 4096)))
        elif kind == 7:  # not a map at top level, ext types, text frames
            frames.append(
                rng.choice([msgpack.packb([1, 2, 3]), msgpack.packb("run"), msgpack.packb(msgpack.ExtType(1, b"x"))])
            )
        elif kind == 8:
            frames.append("{'type': 'run'}")
        else:  # valid msgpack map with garbage values
            frames.append(msgpack.packb({"type": "run", "id": rng.randrange(1 << 60), "prompt": rng.random()}))
    return frames


async def test_flood_of_malformed_frames_leaves_the_server_correct_with_flat_memory(server: Server) -> None:
    rng = random.Random(1234)
    n_conns, per_conn, window = 4, 1250, 50
    frames = fuzz_frames(rng, n_conns * per_conn, server.limits.max_message_bytes)
    sizes = [len(f) for f in frames]
    assert max(sizes) > server.limits.max_message_bytes
    honest = await Raw.connect(server.url)
    expected = [t for t, _ in server.model.run(PROMPTS[0]).top_k(3)]

    async def fuzzer(chunk: list[bytes | str]) -> dict[str, int]:
        c = await Raw.connect(server.url)
        codes: dict[str, int] = {}
        for start in range(0, len(chunk), window):
            part = chunk[start : start + window]
            for f in part:
                await c.send_bytes(f)
            for _ in part:
                m = await c.recv()
                assert m["type"] == "error", m
                codes[m["code"]] = codes.get(m["code"], 0) + 1
        assert await c.ping_ok()
        await c.close()
        return codes

    # warm-up: the first few hundred frames settle allocator arenas and caches before measuring
    await fuzzer(fuzz_frames(random.Random(7), 400, server.limits.max_message_bytes))
    rss_before = rss_mb()
    t0 = time.perf_counter()
    chunks = [frames[i * per_conn : (i + 1) * per_conn] for i in range(n_conns)]
    fuzzing = [asyncio.create_task(fuzzer(ch)) for ch in chunks]
    honest_runs = 0
    while not all(t.done() for t in fuzzing):  # an honest user keeps getting right answers during the flood
        reply = await honest.request({"type": "run", "id": honest_runs, "prompt": PROMPTS[0], "top_k": 3}, True)
        assert [x["token"] for x in next(f for f in reply if f["type"] == "run.result")["top_k"]] == expected
        honest_runs += 1
    counts: dict[str, int] = {}
    for t in fuzzing:
        for code, k in (await t).items():
            counts[code] = counts.get(code, 0) + k
    elapsed = time.perf_counter() - t0
    rss_after = rss_mb()
    assert sum(counts.values()) == len(frames)
    assert {"bad_frame", "too_large", "bad_message", "unknown_type"} <= set(counts), counts
    assert "internal" not in counts, counts
    assert honest_runs >= 1
    assert rss_after - rss_before < 64, f"server memory grew {rss_after - rss_before:.0f} MB over the flood"
    assert elapsed < 120
    assert await honest.ping_ok()
    await honest.close()


async def test_transport_oversized_frame_closes_only_that_connection(server: Server) -> None:
    c = await Raw.connect(server.url)
    other = await Raw.connect(server.url)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        # without compression the server may close while the client still writes: then the send raises
        await c.send_bytes(b"\0" * (server.limits.transport_max_bytes + 1))
        await c.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert await other.ping_ok()
    await other.close()


async def expect_closed(ws: Any, code: int) -> list[dict[str, Any]]:
    """The frames before the close (decoded), after checking the close code."""
    frames = []
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with asyncio.timeout(10):
            while True:
                frames.append(msgpack.unpackb(await ws.recv()))
    assert closed.value.rcvd is not None and closed.value.rcvd.code == code, closed.value
    return frames


async def test_wrong_token_and_wrong_origin_are_rejected(server: Server) -> None:
    with serve_with(server, token="s3cret-token", allowed_origins=["https://lab.example.org", "tools.example"]) as srv:
        for token in (None, "wrong", "s3cret-toke", "s3cret-tokenX", "tökén ☃"):
            ws = await websockets.connect(srv.url)
            hello: dict[str, Any] = {"type": "hello", "protocol": 1, **({"token": token} if token else {})}
            await ws.send(msgpack.packb(hello))
            [err] = await expect_closed(ws, 4401)
            assert err["code"] == "unauthorized", err
        ws = await websockets.connect(srv.url)
        await ws.send(msgpack.packb({"type": "hello", "protocol": 1, "token": "s3cret-token"}))
        assert msgpack.unpackb(await ws.recv())["type"] == "welcome"
        await ws.close()
        for origin in ("https://evil.example", "http://lab.example.org.evil.example", "null"):
            with pytest.raises(websockets.InvalidStatus) as refused:
                await websockets.connect(srv.url, origin=origin)  # type: ignore[arg-type]
            assert refused.value.response.status_code == 403
        port = srv.url.split(":")[2].split("/")[0]
        for origin in ("https://lab.example.org", "http://tools.example:9999", f"http://127.0.0.1:{port}"):
            ws = await websockets.connect(srv.url, origin=origin)  # type: ignore[arg-type]
            await ws.send(msgpack.packb({"type": "hello", "protocol": 1, "token": "s3cret-token"}))
            assert msgpack.unpackb(await ws.recv())["type"] == "welcome", origin
            await ws.close()


def serve_with(server: Server, limits: Limits | None = None, **kw: Any) -> Any:
    import contextlib

    from loupe.server.background import serving

    @contextlib.contextmanager
    def cm() -> Any:
        lim = limits or server.limits
        with serving(server.model, lim, **kw) as url:
            yield Server(url, url.replace("ws://", "http://").removesuffix("/ws"), server.model, lim)

    return cm()


async def test_max_sessions_and_hello_deadline(server: Server) -> None:
    limits = dataclasses.replace(server.limits, max_sessions=3, hello_timeout_s=1)
    with serve_with(server, limits) as srv:
        held = [await Raw.connect(srv.url) for _ in range(2)]
        idle = await websockets.connect(srv.url)  # never says hello: holds the third slot for a second
        extra = await websockets.connect(srv.url)
        [err] = await expect_closed(extra, 1013)
        assert err["code"] == "busy" and "max_sessions" in err["message"], err
        assert health(srv)["sessions"] == 3 and health(srv)["max_sessions"] == 3
        [err] = await expect_closed(idle, 1008)  # the hello deadline frees the slot
        assert err["code"] == "no_hello", err
        deadline = time.monotonic() + 5
        while health(srv)["sessions"] > 2:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        late = await Raw.connect(srv.url)
        assert await late.ping_ok()
        for c in [*held, late]:
            await c.close()


async def test_cancel_and_disconnect_free_the_queue(server: Server) -> None:
    base = health(server)
    assert base["pending"] == 0 and base["jobs"] == 0
    clients = [await Raw.connect(server.url) for _ in range(6)]
    blocker = await Raw.connect(server.url)
    with slow_layers(server.model, 0.1):
        await blocker.send({"type": "run", "id": "b", "prompt": PROMPTS[0]})
        await asyncio.sleep(0.05)
        for c in clients:
            for k in range(server.limits.max_queued_jobs):
                await c.send({"type": "run", "id": k, "prompt": PROMPTS[k % len(PROMPTS)]})
        deadline = time.monotonic() + 5
        while (h := health(server))["jobs"] < 6 * server.limits.max_queued_jobs:
            assert time.monotonic() < deadline, h
            await asyncio.sleep(0.02)
        assert h["pending"] >= 1, h  # the sessions' first runs wait in the scheduler behind the blocker
        for c in clients[:3]:
            [reply] = await c.request({"type": "cancel", "id": "all"})
            assert sorted(reply["targets"]) == list(range(server.limits.max_queued_jobs))
        for c in clients[3:]:
            await c.close()
        t0 = time.monotonic()
        while (h := health(server))["jobs"] > 0 or h["pending"] > 0 or h["sessions"] > base["sessions"] + 4:
            assert time.monotonic() - t0 < 3, h
            await asyncio.sleep(0.02)
    await blocker.until_final("b")
    for c in clients[:3]:
        assert await c.ping_ok()
        await c.close()
    await blocker.close()
    assert torch.is_grad_enabled()
