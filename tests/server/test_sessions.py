"""Interventions, saved runs and vectors are per session; cancel and disconnect stop work quickly."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import httpx
import numpy as np
import pytest
import websockets

from tests.server.conftest import Server, serve, slow_layers
from tests.server.wire import Raw, tensor

PROMPT = "The quick brown fox jumps over the lazy"
ABLATE = {"id": "z", "op": "ablate", "hook": "blocks.1.hook_resid_post", "mode": "zero"}


def top_tokens(frames: list[dict]) -> list[int]:
    result = next(f for f in frames if f["type"] == "run.result")
    return [p["token"] for p in result["top_k"]]


async def test_interventions_do_not_leak_between_sessions(server: Server) -> None:
    model = server.model
    a, b = await Raw.connect(server.url), await Raw.connect(server.url)
    [reply] = await a.request({"type": "interventions.add", "id": 1, "item": ABLATE})
    assert reply["type"] == "interventions" and [i["id"] for i in reply["items"]] == ["z"]
    assert reply["items"][0]["enabled"] is True
    fa = await a.request({"type": "run", "id": "ra", "prompt": PROMPT, "top_k": 5}, streaming=True)
    fb = await b.request({"type": "run", "id": "rb", "prompt": PROMPT, "top_k": 5}, streaming=True)
    clean = [t for t, _ in model.run(PROMPT).top_k(5)]
    ablated = [t for t, _ in model.run(PROMPT, interventions=[ABLATE]).top_k(5)]
    assert clean != ablated
    result_a = fa[-2]
    assert result_a["intervened"] is True and top_tokens(fa) == ablated
    assert [p["token"] for p in result_a["clean"]] == clean  # the clean row of the same batched forward
    assert fb[-2]["intervened"] is False and top_tokens(fb) == clean
    [listed] = await b.request({"type": "interventions.list", "id": 2})
    assert listed["items"] == []
    await a.close()
    await b.close()


async def test_intervention_list_operations(server: Server) -> None:
    c = await Raw.connect(server.url)
    steer = {"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": tensor(np.ones(64, np.float32)), "scale": 2.0}
    [r] = await c.request({"type": "interventions.set", "id": 1, "items": [ABLATE, steer]})
    assert [i["id"] for i in r["items"]] == ["z", "i1"]
    assert isinstance(r["items"][1]["vector"], np.ndarray) and r["items"][1]["vector"].shape == (64,)
    [r] = await c.request({"type": "interventions.add", "id": 2, "item": {**ABLATE, "enabled": False}})
    assert [i["enabled"] for i in r["items"]] == [False, True]  # same id: replaced in place
    [r] = await c.request({"type": "interventions.remove", "id": 3, "ids": ["i1"]})
    assert [i["id"] for i in r["items"]] == ["z"]
    frames = await c.request({"type": "run", "id": "r", "prompt": PROMPT}, streaming=True)
    assert frames[-2]["intervened"] is False  # the only intervention is disabled
    [r] = await c.request({"type": "interventions.clear", "id": 4})
    assert r["items"] == []
    await c.close()


async def test_saved_run_as_patch_source_and_vectors(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    other = "The slow green cat walks under the happy"
    frames = await c.request({"type": "runs.save", "id": "s", "name": "src", "prompt": other}, streaming=True)
    assert [f["type"] for f in frames] == ["runs", "done"] and frames[0]["items"][0]["name"] == "src"
    last = model.cfg.n_layers - 1
    patch = {"op": "patch", "hook": f"blocks.{last}.hook_resid_post", "source": "src"}
    [r] = await c.request({"type": "interventions.set", "id": 1, "items": [patch]})
    assert r["type"] == "interventions", r
    frames = await c.request({"type": "run", "id": "r", "prompt": PROMPT, "top_k": 5}, streaming=True)
    assert top_tokens(frames) == [t for t, _ in model.run(other).top_k(5)]
    pos, neg = ["I love this", "What a joy"], ["I hate this", "What a pain"]
    frames = await c.request(
        {"type": "vectors.from_prompts", "id": "v", "name": "joy", "positive": pos, "negative": neg, "layer": 1},
        streaming=True,
    )
    assert [f["type"] for f in frames] == ["vectors", "done"]
    hook = "blocks.1.hook_resid_post"
    means = []
    for prompts in (pos, neg):
        res = model.run(prompts, capture=[hook])
        last_pos = res.attention_mask.sum(1) - 1
        means.append(np.stack([res.cache[hook][i, int(p)].numpy() for i, p in enumerate(last_pos)]).mean(0))
    np.testing.assert_allclose(frames[0]["vector"], means[0] - means[1], rtol=1e-4, atol=1e-5)
    assert frames[0]["items"][0] == {"name": "joy", "d": 64, "norm": frames[0]["items"][0]["norm"], "origin": "prompts"}
    [r] = await c.request({"type": "vectors.save", "id": "u", "name": "up", "vector": tensor(np.ones(64, np.float16))})
    assert [v["name"] for v in r["items"]] == ["joy", "up"] and r["items"][1]["norm"] == 8.0
    [r] = await c.request(
        {
            "type": "interventions.add",
            "id": 2,
            "item": {"op": "steer", "hook": "blocks.2.hook_resid_post", "vector": "joy", "scale": 3.0},
        }
    )
    assert len(r["items"]) == 2
    frames = await c.request({"type": "run", "id": "r2", "prompt": PROMPT}, streaming=True)
    assert frames[-1]["type"] == "done"
    [r] = await c.request({"type": "vectors.remove", "id": "x", "names": ["up"]})
    assert [v["name"] for v in r["items"]] == ["joy"]
    [r] = await c.request({"type": "runs.list", "id": "y"})
    assert [v["name"] for v in r["items"]] == ["src"]
    await c.close()


async def test_cancel_stops_a_run_within_a_second(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.5):  # a 2 s run
        await c.send({"type": "run", "id": "long", "prompt": PROMPT})
        await c.send({"type": "run", "id": "queued", "prompt": PROMPT})
        while (await c.recv())["type"] != "run.layer":
            pass
        t0 = time.perf_counter()
        await c.send({"type": "cancel", "id": "c", "target": "long"})
        seen: dict = {}
        while "long" not in seen or "c" not in seen:
            m = await c.recv()
            if m["type"] in ("done", "cancelled", "error"):
                seen[m["id"]] = m
        assert time.perf_counter() - t0 < 1.0
        assert seen["long"]["type"] == "done" and seen["long"]["cancelled"] is True
        assert seen["c"]["targets"] == ["long"]
        [c2] = await c.request({"type": "cancel", "id": "c2"})  # everything: the queued run
        assert c2["targets"] == ["queued"]
    done = await c.until_final("queued")
    assert done[-1]["type"] == "done" and done[-1]["cancelled"] is True
    assert await c.ping_ok()
    await c.close()


async def test_queue_limit_and_duplicate_ids(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.05):
        for i in range(server.limits.max_queued_jobs):
            await c.send({"type": "run", "id": i, "prompt": PROMPT})
        await c.send({"type": "run", "id": 0, "prompt": PROMPT})
        await c.send({"type": "run", "id": 99, "prompt": PROMPT})
        errors = []
        while len(errors) < 2:
            m = await c.recv()
            if m["type"] == "error":
                errors.append(m)
        assert {e["code"] for e in errors} == {"duplicate_id", "busy"}
        await c.request({"type": "cancel", "id": "all"})
    await c.close()


async def test_disconnect_cancels_the_sessions_work(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.4) as calls:  # 4 layers: a 1.6 s run
        await c.send({"type": "run", "id": "long", "prompt": PROMPT})
        while (await c.recv())["type"] != "run.layer":
            pass
        await c.close()
        at_close = calls[0]
        await asyncio.sleep(1.5)
        assert calls[0] <= at_close + 1  # stopped at the next layer boundary, not run to the end
    d = await Raw.connect(server.url)
    frames = await d.request({"type": "run", "id": "r", "prompt": PROMPT}, streaming=True)
    assert frames[-1]["type"] == "done"
    await d.close()


async def test_concurrent_sessions_share_batches_and_keep_their_interventions(server: Server) -> None:
    model = server.model
    vec = np.full(64, 0.5, np.float32)
    steer = {"op": "steer", "hook": "blocks.0.hook_resid_post", "scale": 3.0}
    wire = [[], [ABLATE], [{**steer, "vector": tensor(vec)}], [ABLATE, {**steer, "vector": tensor(vec)}]]
    local = [[], [ABLATE], [{**steer, "vector": vec}], [ABLATE, {**steer, "vector": vec}]]
    clients = [await Raw.connect(server.url) for _ in wire]
    for i, (c, items) in enumerate(zip(clients, wire, strict=True)):
        await c.request({"type": "interventions.set", "id": i, "items": items})
    prompts = [PROMPT, "A short one", PROMPT + " dog", "Another prompt of some length here"]
    before = httpx.get(f"{server.http}/api/health", timeout=5).json()["batches"]
    blocker = await Raw.connect(server.url)
    with slow_layers(model, 0.1):
        await blocker.send({"type": "run", "id": "b", "prompt": PROMPT})  # holds the model while the others queue
        await asyncio.sleep(0.05)
        for c, p in zip(clients, prompts, strict=True):
            await c.send({"type": "run", "id": "r", "prompt": p, "top_k": 3})
        results = [await c.until_final("r") for c in clients]
        await blocker.until_final("b")
    batches = httpx.get(f"{server.http}/api/health", timeout=5).json()["batches"] - before
    assert batches <= 3  # 1 blocker, then 4 runs + 3 clean rows batched (2 passes when they all queue in time)
    for frames, items, p in zip(results, local, prompts, strict=True):
        result = next(f for f in frames if f["type"] == "run.result")
        assert [x["token"] for x in result["top_k"]] == [t for t, _ in model.run(p, interventions=items).top_k(3)]
        assert [x["token"] for x in result["clean"]] == [t for t, _ in model.run(p).top_k(3)]
        assert len([f for f in frames if f["type"] == "run.layer"]) == model.cfg.n_layers
    for c in [*clients, blocker]:
        await c.close()


async def test_a_client_that_falls_behind_is_dropped(server: Server) -> None:
    limits = dataclasses.replace(server.limits, max_outbound_bytes=4000)
    with serve(server.model, limits) as small:
        c = await Raw.connect(small.url)
        await c.send({"type": "run", "id": "r", "prompt": PROMPT * 3, "capture": ["blocks.*.mlp.hook_post"]})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await c.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        other = await Raw.connect(small.url)
        assert await other.ping_ok()
        await other.close()
