"""`analyze logit_lens` with `grid: true`: the whole lens table; with `interventions: false` the clean run's, which
a client compares with the intervened run's `run.layer` lens (issue 14: clean vs intervened lens)."""

from __future__ import annotations

import numpy as np
import torch

from loupe.client import Client
from tests.server.conftest import Server
from tests.server.test_analyze import CLEAN, analyze
from tests.server.wire import Raw


def _hand_lens(server: Server) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 ids and probabilities [n_layers + 1, T] of the clean run, from plain transformers: hidden states
    through the model's own final norm and unembedding (the last hidden state is already normed)."""
    model = server.model
    ids = model.tokenizer(CLEAN, return_tensors="pt").input_ids
    norm = model.adapter.module(model.hf, "final_norm")
    head = model.hf.get_output_embeddings()
    with torch.no_grad():
        out = model.hf(ids, output_hidden_states=True)
        states = out.hidden_states
        logits = torch.stack([*(head(norm(h[0])) for h in states[:-1]), out.logits[0]]).float()
    probs = logits.softmax(-1)
    top = probs.max(-1)
    return top.indices.numpy(), top.values.numpy()


def _run_lens(frames: list[dict]) -> np.ndarray:
    """[n_layers, T] top-1 ids of a run's `lens` summaries."""
    return np.stack([f["summary"]["lens"]["top1"] for f in frames if f["type"] == "run.layer"])


async def test_grid_is_the_whole_table_and_the_clean_one_without_interventions(server: Server) -> None:
    L = server.model.cfg.n_layers
    want_ids, want_probs = _hand_lens(server)
    c = await Raw.connect(server.url)
    run = await c.request({"type": "run", "id": "r", "prompt": CLEAN, "summaries": ["lens"]}, streaming=True)
    assert run[0]["str_tokens"] and len(want_ids[0]) == len(run[0]["str_tokens"])
    res = (await analyze(c, "plain", kind="logit_lens"))[-2]
    assert "grid" not in res  # only when asked for
    res = (await analyze(c, "g", kind="logit_lens", grid=True, k=1))[-2]
    grid = res["grid"]
    assert grid["tokens"].shape == grid["probs"].shape == (L + 1, len(run[0]["str_tokens"]))
    np.testing.assert_array_equal(grid["tokens"], want_ids)
    np.testing.assert_allclose(grid["probs"], want_probs, atol=2e-2)
    assert grid["top_str"][-1] == [server.model.tokenizer.decode([int(t)]) for t in want_ids[-1]]
    np.testing.assert_array_equal(grid["tokens"][1:], _run_lens(run))  # row l + 1 is run.layer l's lens

    # With an intervention the run's lens changes; the grid with interventions: false stays the clean table.
    ablate = [{"op": "ablate", "hook": f"blocks.{layer}.attn.hook_z", "mode": "zero"} for layer in (0, 1)]
    await c.request({"type": "interventions.set", "id": "iv", "items": ablate})
    run = await c.request({"type": "run", "id": "r2", "prompt": CLEAN, "summaries": ["lens"]}, streaming=True)
    intervened = _run_lens(run)
    clean = (await analyze(c, "c", kind="logit_lens", grid=True, interventions=False))[-2]["grid"]
    np.testing.assert_array_equal(clean["tokens"], want_ids)
    assert not np.array_equal(clean["tokens"][1:], intervened)
    with_iv = (await analyze(c, "i", kind="logit_lens", grid=True))[-2]["grid"]
    np.testing.assert_array_equal(with_iv["tokens"][1:], intervened)
    await c.close()


async def test_the_python_client_asks_for_the_clean_table(server: Server) -> None:
    async with Client(server.url) as lo:
        out = await lo.analyze("logit_lens", prompt=CLEAN, grid=True, interventions=False)
    np.testing.assert_array_equal(out["grid"]["tokens"], _hand_lens(server)[0])
