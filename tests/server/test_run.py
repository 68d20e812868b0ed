"""`run` over a raw WebSocket: frame order, streaming before the end, values equal to model.run."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from loupe.codec import to_json
from tests.proto.schemas import validate
from tests.server.conftest import Server, serve, slow_layers
from tests.server.wire import Raw

PROMPT = "When Mary and John went to the store, John gave a drink to"


async def test_layers_stream_in_order_before_the_run_ends(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.15):
        frames = await c.request({"type": "run", "id": "r1", "prompt": PROMPT}, streaming=True)
    kinds = [f["type"] for f in frames]
    n = server.model.cfg.n_layers
    assert kinds == ["run.tokens"] + ["run.layer"] * n + ["run.result", "done"]
    layers = [f for f in frames if f["type"] == "run.layer"]
    assert [f["layer"] for f in layers] == list(range(n))
    assert [f["ms"] for f in layers] == sorted(f["ms"] for f in layers)
    # layer 0 reaches the client while the remaining layers (>= 3 x 0.15 s) are still running
    assert frames[-1]["_t"] - layers[0]["_t"] > 0.3
    assert layers[0]["_t"] < layers[-1]["_t"] - 0.3
    assert frames[-1]["cancelled"] is False
    await c.close()


async def test_captured_tensors_match_model_run(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    capture = ["hook_embed", "blocks.*.hook_resid_post", "blocks.2.attn.hook_pattern", "blocks.1.attn.hook_k", "logits"]
    frames = await c.request({"type": "run", "id": 5, "prompt": PROMPT, "capture": capture}, streaming=True)
    ref = model.run(PROMPT, capture=capture)
    got: dict[str, np.ndarray] = {}
    for f in frames:
        got.update(f.get("tensors", {}))
    assert set(got) == set(model.match_hooks(capture))
    for name, arr in got.items():
        assert arr.dtype == np.float16
        expected = ref.cache[name][0].numpy()
        assert arr.shape == expected.shape, name
        np.testing.assert_allclose(arr.astype(np.float32), expected, rtol=2e-3, atol=2e-3 * np.abs(expected).max())
    assert "hook_embed" in frames[1]["tensors"]  # comes with layer 0
    tokens = frames[0]["tokens"]
    assert tokens.dtype == np.int32 and tokens.tolist() == ref.tokens[0].tolist()
    assert frames[0]["str_tokens"] == ref.str_tokens[0]
    await c.close()


async def test_f32_on_request_and_summaries(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    frames = await c.request({"type": "run", "id": "a", "prompt": PROMPT, "dtype": "f32", "top_k": 3}, streaming=True)
    ref = model.run(PROMPT, capture=["blocks.*.hook_resid_post", "blocks.*.attn.hook_pattern"])
    layers = [f for f in frames if f["type"] == "run.layer"]
    n_tokens = ref.tokens.shape[1]
    norm = model.adapter.module(model.hf, "final_norm")
    unembed = model.hf.get_output_embeddings()
    for f in layers:
        s, layer = f["summary"], f["layer"]
        resid = ref.cache[f"blocks.{layer}.hook_resid_post"][0]
        assert s["resid_norm"].dtype == np.float32 and s["resid_norm"].shape == (n_tokens,)
        np.testing.assert_allclose(s["resid_norm"], resid.norm(dim=-1).numpy(), rtol=1e-4)
        probs = torch.softmax(unembed(norm(resid)), -1)
        assert s["lens"]["top1"].tolist() == probs.argmax(-1).tolist()
        # the lens may run its vocabulary-wide product in bfloat16 (LensDecoder): exact ids, probabilities ~1e-4
        np.testing.assert_allclose(s["lens"]["prob"], probs.max(-1).values.detach().numpy(), rtol=1e-2)
        assert s["lens"]["top5"].tolist() == probs[-1].topk(5).indices.tolist()
        assert len(s["lens"]["top1_str"]) == n_tokens and len(s["lens"]["top5_str"]) == 5
        pattern = ref.cache[f"blocks.{layer}.attn.hook_pattern"][0].numpy()
        np.testing.assert_allclose(s["attn"], pattern, rtol=1e-5, atol=1e-6)  # T <= 64: exact
    result = frames[-2]
    assert result["type"] == "run.result" and result["intervened"] is False
    top = ref.top_k(3)
    assert [p["token"] for p in result["top_k"]] == [t for t, _ in top]
    np.testing.assert_allclose([p["prob"] for p in result["top_k"]], [p for _, p in top], rtol=1e-5)
    assert result["clean"] == result["top_k"]
    await c.close()


async def test_token_ids_and_chosen_summaries(server: Server) -> None:
    tokens = list(range(100, 100 + 46))  # 46 tokens: within the test limit of 48
    c = await Raw.connect(server.url)
    frames = await c.request({"type": "run", "id": "t", "tokens": tokens, "summaries": ["attn"]}, streaming=True)
    assert frames[0]["tokens"].tolist() == tokens
    layer0 = frames[1]
    assert set(layer0["summary"]) == {"attn"} and layer0["summary"]["attn"].shape == (4, 46, 46)
    await c.close()


async def test_attention_head_and_logit_diff(server: Server) -> None:
    model = server.model
    c = await Raw.connect(server.url)
    [err] = await c.request({"type": "attention.head", "id": "h0", "layer": 0, "head": 0})
    assert err["type"] == "error" and err["code"] == "not_found"
    frames = await c.request(
        {"type": "run", "id": "r", "prompt": PROMPT, "answer": " Mary", "wrong": " John", "summaries": False},
        streaming=True,
    )
    assert "summary" not in frames[1]
    ref = model.run(PROMPT, capture=["blocks.2.attn.hook_pattern"])
    mary = model.tokenizer.encode(" Mary", add_special_tokens=False)[0]
    john = model.tokenizer.encode(" John", add_special_tokens=False)[0]
    diff = frames[-2]["logit_diff"]
    assert (diff["answer_token"], diff["wrong_token"]) == (mary, john)
    assert abs(diff["value"] - (ref.logit(mary) - ref.logit(john))) < 1e-3
    assert diff["clean"] == diff["value"]
    [head] = await c.request({"type": "attention.head", "id": "h1", "layer": 2, "head": 3, "dtype": "f32"})
    assert head["type"] == "attention.head" and head["str_tokens"] == ref.str_tokens[0]
    np.testing.assert_allclose(head["pattern"], ref.cache["blocks.2.attn.hook_pattern"][0, 3].numpy(), atol=1e-3)
    [bad] = await c.request({"type": "attention.head", "id": "h2", "layer": 9, "head": 0})
    assert bad["code"] == "bad_message" and "layer" in bad["message"]
    await c.close()


async def test_every_server_frame_matches_the_schemas(server: Server) -> None:
    c = await Raw.connect(server.url)
    frames = [c.welcome]
    frames += await c.request(
        {
            "type": "run",
            "id": "r",
            "prompt": PROMPT,
            "capture": ["blocks.0.attn.hook_z", "logits"],
            "answer": " a",
            "wrong": " b",
        },
        streaming=True,
    )
    frames += await c.request({"type": "interventions.add", "id": 1, "item": {"op": "ablate", "hook": "hook_embed"}})
    frames += await c.request(
        {"type": "generate", "id": "g", "prompt": PROMPT, "max_new_tokens": 2, "compare": True}, streaming=True
    )
    frames += await c.request({"type": "runs.save", "id": "s", "name": "x", "prompt": "a b"}, streaming=True)
    frames += await c.request(
        {"type": "vectors.from_prompts", "id": "v", "name": "v", "positive": ["a"], "negative": ["b"], "layer": 0},
        streaming=True,
    )
    frames += await c.request({"type": "attention.head", "id": "h", "layer": 1, "head": 1})
    frames += await c.request({"type": "cancel", "id": "c"})
    frames += await c.request({"type": "run", "id": "e", "prompt": 3})
    frames += await c.request({"type": "ping", "id": "p"})
    kinds = {f["type"] for f in frames}
    assert {
        "welcome",
        "run.tokens",
        "run.layer",
        "run.result",
        "done",
        "interventions",
        "gen.token",
        "runs",
        "vectors",
        "attention.head",
        "cancelled",
        "error",
        "pong",
    } <= kinds
    for f in frames:
        f.pop("_t", None)
        validate(to_json(f))
    await c.close()


async def test_attention_head_recomputed_when_patterns_were_not_kept(server: Server) -> None:
    model = server.model
    limits = dataclasses.replace(server.limits, last_run_pattern_bytes=0)
    ablate = {"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 1}
    with serve(model, limits) as small:
        c = await Raw.connect(small.url)
        await c.request({"type": "interventions.set", "id": 0, "items": [ablate]})
        await c.request({"type": "run", "id": "r", "prompt": PROMPT}, streaming=True)
        [head] = await c.request({"type": "attention.head", "id": "h", "layer": 2, "head": 1, "dtype": "f32"})
        ref = model.run(PROMPT, capture=["blocks.2.attn.hook_pattern"], interventions=[ablate])
        np.testing.assert_allclose(head["pattern"], ref.cache["blocks.2.attn.hook_pattern"][0, 1].numpy(), atol=1e-5)
        await c.close()
