"""End to end with the embedded SmolLM2: the real model behind the real server."""

from __future__ import annotations

import numpy as np

import loupe
from loupe.client import Client
from tests.server.conftest import Server
from tests.server.wire import Raw

PROMPT = "The capital of France is"


async def test_embedded_model_over_the_wire(smol_server: Server, smol: loupe.HookedModel) -> None:
    c = await Raw.connect(smol_server.url)
    assert c.welcome["model"]["name"] == "SmolLM2-135M-Instruct" and c.welcome["model"]["n_layers"] == 30
    frames = await c.request({"type": "run", "id": "r", "prompt": PROMPT, "top_k": 3}, streaming=True)
    layers = [f for f in frames if f["type"] == "run.layer"]
    assert [f["layer"] for f in layers] == list(range(30))
    assert layers[0]["_t"] < frames[-1]["_t"]
    result = frames[-2]
    assert result["top_k"][0]["str"] == " Paris"
    assert layers[-1]["summary"]["lens"]["top5_str"][0] == " Paris"  # the lens at the last layer is the output
    assert layers[0]["summary"]["attn"].shape == (9, 5, 5)
    await c.close()


async def test_embedded_ablation_with_client(smol_server: Server, smol: loupe.HookedModel) -> None:
    async with Client(smol_server.url) as c:
        clean = await c.run(PROMPT, capture=["blocks.10.hook_resid_post"])
        ref = smol.run(PROMPT, capture=["blocks.10.hook_resid_post"])
        got, want = clean.cache["blocks.10.hook_resid_post"], ref.cache["blocks.10.hook_resid_post"][0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
        await c.add_intervention(op="ablate", hook="blocks.0.hook_mlp_out")
        out = await c.run(PROMPT, answer=" Paris", wrong=" London")
        assert out.clean[0]["str"] == " Paris"
        assert out.logit_diff is not None and out.logit_diff["value"] != out.logit_diff["clean"]
