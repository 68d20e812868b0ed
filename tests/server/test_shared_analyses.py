"""The server adapts the library's analyses: over the wire they give the numbers `loupe.analysis` gives."""

from __future__ import annotations

import numpy as np

import loupe
from loupe.analysis import all_head_scores, head_scores, logit_lens, steering_vector
from tests.server.conftest import Server
from tests.server.wire import Raw

IOI = "When Mary and John went to the store, John gave a drink to"


async def test_ui_lens_is_the_library_lens_on_every_layer_and_position(
    smol_server: Server, smol: loupe.HookedModel
) -> None:
    """The lens of the run.layer summaries (what the UI shows) against `logit_lens` on the IOI prompt: the same
    top token at every (layer, position), the same probabilities, the same top 5 at the last position. (The
    library's row 0 is the embedding, the input of block 0, which the UI's per-layer frames do not have.)
    Probabilities agree to the shared decoder's 1e-3: the server's run computes attention eagerly (it keeps the
    patterns) and the library's with the fused kernel, and a residual that differs in the last bits can move a row
    between the decoder's bf16-bounded and float32 paths, whose softmax denominators differ by ~1e-4."""
    c = await Raw.connect(smol_server.url)
    frames = await c.request({"type": "run", "id": "r", "prompt": IOI, "dtype": "f32"}, streaming=True)
    await c.close()
    ui = [f["summary"]["lens"] for f in frames if f["type"] == "run.layer"]
    top1, top5 = logit_lens(smol, IOI, k=1), logit_lens(smol, IOI, k=5)  # what the UI shows: top 1, top 5 at the end
    assert len(ui) == smol.cfg.n_layers and [r.label for r in top1.rows[1:]] == [f"L{i}" for i in range(len(ui))]
    assert len(top1.str_tokens) == 14
    for layer, lens in enumerate(ui):
        row, last = top1.rows[layer + 1], top5.rows[layer + 1]
        np.testing.assert_array_equal(lens["top1"], row.tokens[:, 0].numpy(), err_msg=f"top-1 of layer {layer}")
        np.testing.assert_allclose(lens["prob"], row.probs[:, 0].numpy(), rtol=0, atol=1e-3)
        assert lens["top1_str"] == [top[0] for top in top1.top_str[layer + 1]]
        np.testing.assert_array_equal(lens["top5"], last.tokens[-1].numpy())
        np.testing.assert_allclose(lens["top5_prob"], last.probs[-1].numpy(), rtol=0, atol=1e-3)
        assert lens["top5_str"] == top5.top_str[layer + 1][-1]
    assert ui[-1]["top5_str"][0] == " Mary"


async def test_ui_steering_vector_is_the_library_one(server: Server) -> None:
    """`vectors.from_prompts` as the UI sends it (its default prompts, layer and position) equals
    `steering_vector` with the same arguments; and the protocol's default position is the library's."""
    model = server.model
    layer = round(model.cfg.n_layers * 0.2)  # the UI's default layer (frontend/src/state/actions.ts)
    pos, neg = ["I love you"], ["I hate you"]  # its default prompts and position (frontend/src/state/store.ts)
    c = await Raw.connect(server.url)
    ui = {"type": "vectors.from_prompts", "name": "steer", "positive": pos, "negative": neg, "layer": layer}
    frames = await c.request({**ui, "id": "v", "position": "mean"}, streaming=True)
    np.testing.assert_array_equal(frames[0]["vector"], steering_vector(model, pos, neg, layer, "mean").numpy())
    long_pos = ["I love this film, it is wonderful and I would see it again tomorrow with all of my friends"]
    frames = await c.request({**ui, "id": "w", "positive": long_pos}, streaming=True)  # in pieces, default position
    await c.close()
    want = steering_vector(model, long_pos, neg, layer)
    assert frames[0]["vector"].shape == want.shape
    np.testing.assert_allclose(frames[0]["vector"], want.numpy(), rtol=1e-4, atol=1e-5)


async def test_head_scores_over_the_wire_are_the_library_ones(server: Server) -> None:
    """One pass scores every kind, each equal to `head_scores` of that kind alone."""
    model = server.model
    c = await Raw.connect(server.url)
    frames = await c.request({"type": "analyze", "id": "h", "kind": "head_scores"}, streaming=True)
    await c.close()
    result = next(f for f in frames if f["type"] == "analyze.result")
    both = all_head_scores(model)
    assert sorted(result["scores"]) == sorted(both) == ["duplicate_token", "induction", "previous_token"]
    for kind, scores in result["scores"].items():
        alone = head_scores(model, kind)
        np.testing.assert_array_equal(both[kind].scores.numpy(), alone.scores.numpy())
        np.testing.assert_allclose(scores, alone.scores.numpy(), rtol=0, atol=1e-3)
        assert (result["seq_len"], result["batch"]) == (alone.seq_len, alone.batch)
