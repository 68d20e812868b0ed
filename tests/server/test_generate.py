"""`generate`: tokens stream as produced, steered and baseline side by side, cancellable."""

from __future__ import annotations

import time

from tests.server.conftest import Server, slow_layers
from tests.server.wire import Raw

PROMPT = "Once upon a time there"
STEER = {"op": "ablate", "hook": "blocks.2.hook_resid_post", "mode": "zero"}


async def test_generate_compare_matches_engine(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    await c.request({"type": "interventions.set", "id": 1, "items": [STEER]})
    frames = await c.request(
        {"type": "generate", "id": "g", "prompt": PROMPT, "max_new_tokens": 6, "compare": True}, streaming=True
    )
    tokens = [f for f in frames if f["type"] == "gen.token"]
    steered = [f["token"] for f in tokens if f["branch"] == "steered"]
    baseline = [f["token"] for f in tokens if f["branch"] == "baseline"]
    assert [f["branch"] for f in tokens[:4]] == ["steered", "baseline", "steered", "baseline"]
    assert [f["index"] for f in tokens if f["branch"] == "steered"] == list(range(len(steered)))
    want_steered = [s.token for s in model.generate(PROMPT, max_new_tokens=6, interventions=[STEER])]
    want_base = [s.token for s in model.generate(PROMPT, max_new_tokens=6)]
    assert steered == want_steered[: len(steered)] and baseline == want_base[: len(baseline)]
    assert steered != baseline
    done = frames[-1]
    assert done["type"] == "done" and done["text"]["steered"] == "".join(
        f["text"] for f in tokens if f["branch"] == "steered"
    )
    await c.close()


async def test_generate_streams_and_cancels(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.03):  # ~0.12 s per token
        await c.send({"type": "generate", "id": "g", "prompt": PROMPT, "max_new_tokens": 40})
        first = await c.recv()
        second = await c.recv()
        assert first["type"] == second["type"] == "gen.token" and first["branch"] == "steered"
        t0 = time.perf_counter()
        await c.send({"type": "cancel", "id": "c", "target": "g"})
        frames = await c.until_final("g")
    assert time.perf_counter() - t0 < 1.0
    assert frames[-1]["type"] == "done" and frames[-1]["cancelled"] is True
    assert len([f for f in frames if f["type"] == "gen.token"]) < 38
    await c.close()
