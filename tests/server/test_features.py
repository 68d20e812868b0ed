"""features.* and run features over a raw WebSocket, against the engine's own functions on the same model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, LlamaConfig

import loupe
from loupe.codec import to_json
from loupe.features import search
from loupe.features.dashboard import compute_dashboard
from loupe.features.info import feature_info
from tests.features.helpers import random_sae
from tests.proto.schemas import validate
from tests.server.conftest import TEST_LIMITS, Server, serve
from tests.server.wire import Raw

PROMPT = "When Mary and John went to the store, John gave a drink to"
HOOK = "blocks.2.hook_resid_post"


@pytest.fixture(scope="module")
def fserver(tokenizer: Any) -> Iterator[Server]:
    """A tiny Llama (d_model 64, 4 layers) with SAE "res2" (topk, with a dashboard) and "emb" (no dashboard)."""
    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=64,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        vocab_size=len(tokenizer),
        max_position_embeddings=128,
        initializer_range=0.2,
    )
    model = loupe.load(AutoModelForCausalLM.from_config(cfg, dtype=torch.float32).eval(), tokenizer=tokenizer)
    sae = model.add_sae(random_sae("topk", d_in=64, d_sae=128, k=8, hook=HOOK, id="res2"))
    rows = model.to_tokens(["The cat sat on the mat.", "Paris is the capital of France!", "One, two, three, four"])
    sae.dashboard = compute_dashboard(model, sae, rows[:, :5], n_contexts=3, window=4)
    model.add_sae(random_sae("standard", d_in=64, d_sae=32, hook="hook_embed", id="emb"))
    with serve(model, TEST_LIMITS) as s:
        yield s


def checked(frame: dict[str, Any]) -> dict[str, Any]:
    """The frame, after checking its JSON view against proto/schema."""
    validate(to_json({k: v for k, v in frame.items() if k != "_t"}))
    return frame


async def test_list_and_info(fserver: Server) -> None:
    model = fserver.model
    c = await Raw.connect(fserver.url)
    [reply] = await c.request({"type": "features.list", "id": "l"})
    checked(reply)
    assert reply["saes"] == [
        {
            "id": "res2",
            "hook": HOOK,
            "layer": 2,
            "d_in": 64,
            "d_sae": 128,
            "architecture": "topk",
            "k": 8,
            "dashboard": True,
        },
        {
            "id": "emb",
            "hook": "hook_embed",
            "layer": 0,
            "d_in": 64,
            "d_sae": 32,
            "architecture": "standard",
            "k": None,
            "dashboard": False,
        },
    ]
    sae = model.saes["res2"]
    f = int(sae.dashboard.density.argmax())
    [info] = await c.request({"type": "features.info", "id": "i", "sae": "res2", "index": f})
    checked(info)
    expected = feature_info(model, sae, sae.dashboard, f)
    assert info["contexts"] == expected["contexts"] and len(info["contexts"]) >= 1
    assert info["promoted"] == expected["promoted"] and info["label"] == expected["label"]
    assert info["density"] == pytest.approx(expected["density"]) and info["histogram"] == expected["histogram"]
    [bare] = await c.request({"type": "features.info", "id": "e", "sae": "emb", "index": 3})
    checked(bare)
    assert bare["density"] is None and bare["contexts"] == [] and len(bare["promoted"]) == 10
    for msg, code, words in [
        ({"sae": "nope", "index": 0}, "not_found", "no SAE 'nope'"),
        ({"sae": "res2", "index": 128}, "bad_message", "out of range"),
        ({"sae": "res2", "index": -1}, "bad_message", "features.info.index"),
    ]:
        [err] = await c.request({"type": "features.info", "id": "x", **msg})
        assert err["type"] == "error" and err["code"] == code and words in err["message"], err
    assert await c.ping_ok()
    await c.close()


async def test_run_features_equal_the_engine(fserver: Server) -> None:
    model = fserver.model
    c = await Raw.connect(fserver.url)
    run = {"type": "run", "id": "r", "prompt": PROMPT, "features": {"sae": "res2", "k": 5}}
    frames = await c.request(run, streaming=True)
    layers = [checked(f) for f in frames if f["type"] == "run.layer"]
    assert [("features" in f) for f in layers] == [False, False, True, False]
    part = layers[2]["features"]
    ref = model.run(PROMPT, features=["res2"], feature_k=5).features["res2"]
    assert part["sae"] == "res2" and part["hook"] == HOOK
    assert part["ids"].dtype == np.int32 and part["values"].dtype == np.float32
    np.testing.assert_allclose(part["values"], ref.values[0].numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(part["ids"][:, 0], ref.ids[0, :, 0].numpy())
    # with a feature intervention on: the features are those of the intervened run
    iv = {"op": "feature", "sae": "res2", "index": int(ref.ids[0, -1, 0]), "mode": "ablate", "positions": [-1]}
    [reply] = await c.request({"type": "interventions.add", "id": "a", "item": iv})
    assert reply["type"] == "interventions" and reply["items"][0]["op"] == "feature", reply
    frames = await c.request({**run, "id": "r2"}, streaming=True)
    part = [f for f in frames if f["type"] == "run.layer"][2]["features"]
    engine_iv = {k: v for k, v in reply["items"][0].items() if k not in ("id", "enabled")}
    ref2 = model.run(PROMPT, features=["res2"], feature_k=5, interventions=[engine_iv])
    np.testing.assert_allclose(part["values"], ref2.features["res2"].values[0].numpy(), rtol=1e-5, atol=1e-4)
    result = next(f for f in frames if f["type"] == "run.result")
    assert result["intervened"] and result["top_k"][0]["logit"] == pytest.approx(
        float(ref2.logits[0, -1].max()), abs=1e-3
    )
    [emb] = [
        f
        for f in await c.request({**run, "id": "r3", "features": {"sae": "emb"}}, streaming=True)
        if f["type"] == "run.layer" and "features" in f
    ]
    assert emb["layer"] == 0 and emb["features"]["ids"].shape == (len(model.to_str_tokens(PROMPT)), 16)
    await c.request({"type": "interventions.clear", "id": "c"})
    for features, code in [
        ({"sae": "nope"}, "not_found"),
        ({"sae": "res2", "k": 65}, "bad_message"),
        ({"sae": "res2", "x": 1}, "bad_message"),
    ]:
        [err] = await c.request({**run, "id": "bad", "features": features}, streaming=True)
        assert err["type"] == "error" and err["code"] == code, err
    await c.close()


async def test_bad_feature_interventions_refused_at_add(fserver: Server) -> None:
    c = await Raw.connect(fserver.url)
    base = {"op": "feature", "sae": "res2", "index": 3, "mode": "set", "value": 2.0}
    for change, words in [
        ({"sae": "nope"}, "unknown SAE 'nope'"),
        ({"index": 128}, "index 128 out of range"),
        ({"hook": "blocks.1.hook_resid_post"}, "is not SAE 'res2'"),
        ({"value": None}, "needs a 'value'"),
        ({"value": 1e30}, "max_abs_value"),
        ({"mode": "double"}, "'mode' must be one of"),
    ]:
        [err] = await c.request({"type": "interventions.add", "id": "a", "item": {**base, **change}})
        assert err["type"] == "error" and err["code"] == "bad_intervention" and words in err["message"], err
    [ok] = await c.request({"type": "interventions.add", "id": "a", "item": base})
    assert ok["items"][0]["sae"] == "res2"
    await c.close()


async def test_search_and_contrast(fserver: Server) -> None:
    model = fserver.model
    sae = model.saes["res2"]
    c = await Raw.connect(fserver.url)
    [tok] = await c.request(
        {"type": "features.search", "id": "t", "sae": "res2", "by": "token", "query": " the", "k": 4}
    )
    checked(tok)
    assert [r["index"] for r in tok["results"]] == [i for i, _ in search.by_token(model, sae, " the", 4)]
    assert all(r["label"] for r in tok["results"])
    ctx = sae.dashboard.contexts(int(sae.dashboard.density.argmax()), model.decode_each)[0]
    needle = ctx["tokens"][-1]
    [text] = await c.request({"type": "features.search", "id": "x", "sae": "res2", "by": "text", "query": needle})
    checked(text)
    assert [(r["index"], pytest.approx(r["score"])) for r in text["results"]] == search.by_text(
        model, sae.dashboard, sae, needle, 20
    )
    [span] = await c.request(
        {
            "type": "features.search",
            "id": "s",
            "sae": "res2",
            "by": "span",
            "prompt": PROMPT,
            "positions": [2, -1],
            "k": 3,
        }
    )
    checked(span)
    expected = search.by_span(model, sae, model.to_tokens(PROMPT), [2, -1], 3)
    assert [(r["index"], pytest.approx(r["score"], abs=1e-4)) for r in span["results"]] == expected
    [err] = await c.request({"type": "features.search", "id": "s", "sae": "res2", "by": "span", "positions": [0]})
    assert err["code"] == "not_found" and "no run yet" in err["message"]
    await c.request({"type": "run", "id": "r", "prompt": PROMPT}, streaming=True)
    [span2] = await c.request(
        {"type": "features.search", "id": "s", "sae": "res2", "by": "span", "positions": [2, -1], "k": 3}
    )
    assert span2["results"] == span["results"]
    for msg, code in [
        ({"by": "token"}, "bad_message"),
        ({"by": "token", "query": " the cat"}, "bad_message"),
        ({"by": "text", "query": "x", "sae": "emb"}, "not_found"),
        ({"by": "nearby"}, "bad_message"),
    ]:
        [err] = await c.request({"type": "features.search", "id": "e", "sae": "res2", **msg})
        assert err["type"] == "error" and err["code"] == code, err

    a, b = ["I love this", "What a lovely day"], ["I hate that"]
    [con] = await c.request({"type": "features.contrast", "id": "k", "sae": "res2", "a": a, "b": b, "k": 5})
    checked(con)
    expected_c = search.contrast(model, sae, a, b, 5)
    assert [r["index"] for r in con["results"]] == [h[0] for h in expected_c]
    assert [r["score"] for r in con["results"]] == pytest.approx([h[1] for h in expected_c], abs=1e-4)
    [err] = await c.request({"type": "features.contrast", "id": "k", "sae": "res2", "a": ["x" * 400], "b": b})
    assert err["code"] == "too_long", err
    assert await c.ping_ok()
    await c.close()


async def test_python_client(fserver: Server) -> None:
    from loupe.client import Client, ServerError

    model = fserver.model
    async with Client(fserver.url) as c:
        assert [s["id"] for s in await c.features_list()] == ["res2", "emb"]
        info = await c.feature_info("res2", 5)
        assert info["type"] == "features.info" and info["index"] == 5 and len(info["promoted"]) == 10
        hits = await c.feature_search("res2", by="token", query=" the", k=3)
        assert [h["index"] for h in hits] == [i for i, _ in search.by_token(model, model.saes["res2"], " the", 3)]
        spans = await c.feature_search("res2", by="span", prompt=PROMPT, positions=[-1], k=2)
        assert len(spans) == 2
        assert len(await c.feature_contrast("res2", ["I love this"], ["I hate that"], k=4)) == 4
        out = await c.run(PROMPT, features={"sae": "res2", "k": 3})
        assert out.features is not None and out.features["ids"].shape == (len(out.str_tokens), 3)
        top = int(out.features["ids"][-1, 0])
        await c.add_intervention(op="feature", sae="res2", index=top, mode="ablate", positions=[-1])
        edited = await c.run(PROMPT, features={"sae": "res2", "k": 3})
        assert edited.intervened and edited.features is not None
        assert np.abs(edited.features["values"][-1] - out.features["values"][-1]).max() > 1e-3  # the edit shows
        with pytest.raises(ServerError, match="no SAE 'zz'"):
            await c.feature_info("zz", 0)
