"""`analyze` on the loopback server: every kind answers with sane shapes, patch rows stream before the result,
cancel stops a sweep, bad requests get an error and the session stays usable."""

from __future__ import annotations

import time
from typing import Any, cast

import numpy as np
import torch

from loupe.analysis import logit_diff, patch_sweep
from loupe.codec import to_json
from loupe.server.helpers import _cache
from tests.proto.schemas import validate
from tests.server.conftest import Server, slow_layers
from tests.server.wire import Raw

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When Mary and John went to the store, Mary gave a drink to"


def check(frames: list[dict]) -> list[dict]:
    for f in frames:
        validate(to_json({k: v for k, v in f.items() if k != "_t"}))
    return frames


async def analyze(c: Raw, rid: str, **fields: object) -> list[dict]:
    return check(await c.request({"type": "analyze", "id": rid, **fields}, streaming=True))


async def test_every_kind_answers(server: Server) -> None:
    L, H = server.model.cfg.n_layers, server.model.cfg.n_heads
    c = await Raw.connect(server.url)
    await c.request({"type": "run", "id": "r", "prompt": CLEAN}, streaming=True)

    *rows, res, done = await analyze(c, "lens", kind="logit_lens", k=3, target=" Mary")
    assert [r["index"] for r in rows] == list(range(L + 1)) and done["type"] == "done"
    assert res["probs"].shape == (L + 1, 3) and len(res["top_str"]) == L + 1 and res["position"] == 13
    assert res["target_prob"].shape == (L + 1,)

    res = (await analyze(c, "dla", kind="dla", answer=" Mary", wrong=" John"))[-2]
    assert res["heads"].shape == (L, H) and res["mlps"].shape == (L,)
    assert abs(res["total"] - res["actual"]) < 1e-3 and len(res["top"]) == 10

    res = (await analyze(c, "ap", kind="attribution_patching", corrupt=CORRUPT, answer=" Mary", wrong=" John"))[-2]
    assert res["effect"].shape == (L, H) and res["col_labels"] == [f"H{h}" for h in range(H)]

    _cache.pop(server.model, None)  # (the model is shared across test modules: another may have cached these)
    first = await analyze(c, "hs1", kind="head_scores")
    again = (await analyze(c, "hs2", kind="head_scores"))[-2]
    assert len(first) == L + 2 and first[-2]["cached"] is False and again["cached"] is True
    assert set(again["scores"]) == {"induction", "previous_token", "duplicate_token"}
    assert again["scores"]["induction"].shape == (L, H)
    assert np.array_equal(again["scores"]["induction"], first[-2]["scores"]["induction"])

    res = (await analyze(c, "qk", kind="qk_ov", layer=1, head=2, k=5))[-2]
    assert len(res["ov_top"]["rows_str"]) == 5 and res["qk_top"]["values"].shape == (5,)
    assert -1.0 <= res["copying_score"] <= 1.0

    res = (await analyze(c, "comp", kind="composition"))[-2]
    assert res["k"].shape == (L, H, L, H) and float(np.abs(res["k"][L - 1]).max()) == 0.0

    tok = check(await c.request({"type": "vectors.from_token", "id": "vt", "name": "mary", "token": " Mary"}))[0]
    neu = check(await c.request({"type": "vectors.from_neuron", "id": "vn", "name": "n5", "layer": 1, "index": 5}))
    assert abs(np.linalg.norm(tok["vector"]) - 1.0) < 1e-4
    assert [(i["name"], i["origin"]) for i in neu[0]["items"]] == [("mary", "token"), ("n5", "neuron")]
    await c.close()


async def test_patch_rows_stream_before_the_result(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    await c.request({"type": "run", "id": "r", "prompt": CLEAN}, streaming=True)
    frames = await analyze(
        c, "p", kind="patch", corrupt=CORRUPT, answer=" Mary", wrong=" John", batch_size=model.cfg.n_heads
    )
    kinds = [f["type"] for f in frames]
    n = model.cfg.n_layers
    assert kinds == ["analyze.row"] * n + ["analyze.result", "done"]
    assert [f["index"] for f in frames[:n]] == list(range(n))
    assert frames[0]["_t"] < frames[n - 1]["_t"] < frames[n]["_t"]
    want = patch_sweep(model, CLEAN, CORRUPT, logit_diff(model, " Mary", " John"), over="heads")
    np.testing.assert_allclose(frames[n]["effect"], want.effect.numpy(), atol=1e-4)
    np.testing.assert_allclose(frames[1]["effect"], want.effect[1].numpy(), atol=1e-4)
    assert abs(frames[n]["clean_metric"] - want.clean_metric) < 1e-4

    # with the session's interventions: ablating every head of the last layer zeroes its row
    ablate = [{"op": "ablate", "hook": f"blocks.{n - 1}.attn.hook_z", "mode": "zero"}]
    await c.request({"type": "interventions.set", "id": "iv", "items": ablate})
    res = (await analyze(c, "p2", kind="patch", corrupt=CORRUPT, answer=" Mary", wrong=" John", over="layers"))[-2]
    assert res["effect"].shape == (n, 2) and abs(float(res["effect"][n - 1, 0])) < 1e-4

    # a sweep on the cached shared prefix has the session's interventions there too: the same as full runs
    vector = torch.linspace(-1, 1, model.cfg.d_model)
    steer = {"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": vector.tolist(), "positions": [2]}
    await c.request({"type": "interventions.set", "id": "iv2", "items": [*ablate, steer]})
    res = (await analyze(c, "p3", kind="patch", corrupt=CORRUPT, answer=" Mary", wrong=" John", batch_size=5))[-2]
    ivs = [*ablate, {**steer, "vector": vector}]

    class FullRuns:  # no `pass_parts`: every batch is a whole `run` with the interventions
        def __getattr__(self, name: str) -> Any:
            return getattr(model, name)

        def run(self, inputs: Any, **kw: Any) -> Any:
            return model.run(inputs, interventions=[*ivs, *(kw.pop("interventions", None) or [])], **kw)

    want = patch_sweep(cast(Any, FullRuns()), CLEAN, CORRUPT, logit_diff(model, " Mary", " John"), over="heads")
    np.testing.assert_allclose(res["metric"], want.metric.numpy(), atol=1e-4)
    await c.close()


async def test_patch_cancels(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.05):
        await c.send(
            {
                "type": "analyze",
                "id": "p",
                "kind": "patch",
                "prompt": CLEAN,
                "corrupt": CORRUPT,
                "answer": " Mary",
                "wrong": " John",
                "over": "resid",
                "batch_size": 4,
            }
        )
        await c.recv()  # the first row
        t0 = time.perf_counter()
        await c.send({"type": "cancel", "id": "c", "target": "p"})
        frames = await c.until_final("p")
    assert time.perf_counter() - t0 < 1.0
    assert frames[-1]["type"] == "done" and frames[-1]["cancelled"] is True
    assert "analyze.result" not in [f["type"] for f in frames]
    await c.close()


async def test_bad_requests_get_errors_and_the_session_stays_usable(server: Server) -> None:
    c = await Raw.connect(server.url)
    bad = [
        ({"kind": "dla", "answer": " Mary"}, "not_found", "no run yet"),
        ({"kind": "circuits"}, "bad_message", "analyze.kind"),
        ({"kind": "qk_ov", "layer": 99, "head": 0}, "bad_message", "L99H0"),
        ({"kind": "qk_ov", "layer": 0}, "bad_message", "analyze.head: required"),
        ({"kind": "dla", "prompt": CLEAN, "answer": " Maryland Johnson"}, "bad_message", "analyze.answer"),
        (
            {"kind": "patch", "prompt": CLEAN, "corrupt": "Mary", "answer": " Mary", "wrong": " John"},
            "bad_message",
            "14",
        ),
        ({"kind": "patch", "prompt": CLEAN, "corrupt": CORRUPT, "answer": " Mary"}, "bad_message", "analyze.wrong"),
        ({"kind": "logit_lens", "prompt": "x " * 100}, "too_long", "limit"),
        ({"kind": "logit_lens", "prompt": CLEAN, "position": 40}, "bad_message", "analyze.position"),
        (
            {"kind": "patch", "prompt": CLEAN, "corrupt": CLEAN, "answer": " Mary", "wrong": " John"},
            "bad_input",
            "same",
        ),
    ]
    for i, (fields, code, words) in enumerate(bad):
        (err,) = check(await c.request({"type": "analyze", "id": i, **fields}, streaming=True))
        assert err["type"] == "error" and err["code"] == code and words in err["message"], (fields, err)
    (err,) = await c.request({"type": "vectors.from_neuron", "id": "n", "name": "x", "layer": 0, "index": 10**6})
    assert err["code"] == "bad_message"
    assert await c.ping_ok()
    res = (await analyze(c, "ok", kind="logit_lens", prompt=CLEAN))[-2]
    assert res["type"] == "analyze.result"
    await c.close()
