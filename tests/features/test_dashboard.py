"""Dashboards, feature info and search against direct computations from the run's feature activations."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import loupe
from loupe.errors import LoupeError
from loupe.features import search
from loupe.features.dashboard import Dashboard, compute_dashboard
from loupe.features.info import feature_info, feature_label
from tests.features.helpers import random_sae

HOOK = "blocks.0.hook_resid_post"


@pytest.fixture
def model(make_pair: Any) -> Iterator[loupe.HookedModel]:
    m, _ = make_pair("llama")
    m.add_sae(random_sae("topk", hook=HOOK, id="s", d_sae=64, k=6))
    yield m
    m.saes.clear()


@pytest.fixture
def rows(model: loupe.HookedModel) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    rows = torch.randint(100, 3000, (13, 24), generator=gen)
    rows[2, 5] = model.tokenizer.eos_token_id  # a special token: left out of every statistic
    return rows


def test_dashboard_matches_direct_statistics(model: loupe.HookedModel, rows: torch.Tensor) -> None:
    sae = model.saes["s"]
    seen: list[int] = []
    dash = compute_dashboard(
        model,
        sae,
        rows,
        batch_size=4,
        n_contexts=5,
        window=8,
        before=5,
        n_bins=6,
        progress=lambda done, n: seen.append(done),
    )
    assert seen == [4, 8, 12, 13]
    acts = model.run(rows, features=[sae]).features["s"].dense().numpy()
    acts[2, 5] = 0.0
    assert dash.n_tokens == 13 * 24 - 1
    np.testing.assert_allclose(dash.density.numpy(), (acts > 0).sum((0, 1)) / (13 * 24 - 1), atol=1e-6)
    np.testing.assert_allclose(dash.max.numpy(), acts.max((0, 1)), atol=1e-5)
    checked = 0
    for f in range(sae.d_sae):
        vals = acts[..., f][acts[..., f] > 0]
        hist = dash.histogram(f)
        if vals.size == 0:
            assert hist == {"edges": [], "counts": []} and dash.contexts(f, model.decode_each) == []
            continue
        assert 1 <= len(hist["counts"]) <= 6 and len(hist["edges"]) == len(hist["counts"]) + 1
        assert hist["edges"][0] <= vals.min() and vals.max() <= hist["edges"][-1] * (1 + 1e-6)
        counts, _ = np.histogram(vals, bins=np.array(hist["edges"]))
        assert counts.tolist() == hist["counts"]
        # contexts: the rows with the highest maxima, each the window around that row's maximum
        row_max = acts[..., f].max(1)
        order = [r for r in np.argsort(-row_max, kind="stable") if row_max[r] > 0][:5]
        ctxs = dash.contexts(f, model.decode_each)
        assert [c["max"] for c in ctxs] == pytest.approx([row_max[r] for r in order], abs=1e-3)
        top = ctxs[0]
        r = order[0]
        p = int(acts[r, :, f].argmax())
        lo, hi = max(0, p - 5), min(24, p + 3)
        assert top["values"] == pytest.approx(acts[r, lo:hi, f].tolist(), abs=2e-3)  # stored as float16
        assert top["tokens"] == model.decode_each(rows[r, lo:hi].tolist())
        checked += 1
    assert checked > 10


def test_save_load_and_corrupt(tmp_path: Path, model: loupe.HookedModel, rows: torch.Tensor) -> None:
    sae = model.saes["s"]
    dash = compute_dashboard(model, sae, rows, n_contexts=4, window=6, info={"corpus": "random ids"})
    dash.labels[3] = "three"
    dash.save(tmp_path)
    again = Dashboard.load(tmp_path, sae.d_sae)
    assert again is not None and again.info == {"corpus": "random ids"} and again.labels == {3: "three"}
    torch.testing.assert_close(again.ctx_values, dash.ctx_values.half().float())
    assert again.logit_ids is not None and again.logit_values is not None
    assert torch.equal(again.logit_ids, dash.logit_ids) and torch.equal(again.logit_values, dash.logit_values)
    assert again.histogram(0)["counts"] == dash.histogram(0)["counts"]
    assert again.histogram(0)["edges"] == pytest.approx(dash.histogram(0)["edges"])
    assert Dashboard.load(tmp_path / "none", 64) is None
    with pytest.raises(LoupeError, match="has 64 features; the SAE has 65"):
        Dashboard.load(tmp_path, 65)
    (tmp_path / "dashboard.safetensors").write_bytes(b"garbage")
    with pytest.raises(LoupeError, match="unreadable"):
        Dashboard.load(tmp_path, 64)


def test_feature_info_and_label(model: loupe.HookedModel, rows: torch.Tensor) -> None:
    sae = model.saes["s"]
    dash = compute_dashboard(model, sae, rows, n_contexts=4, window=6)
    f = int(dash.density.argmax())
    info = feature_info(model, sae, dash, f)
    w_u = model.hf.get_output_embeddings().weight.detach()
    gain = model.adapter.module(model.hf, "final_norm").weight.detach()
    logits = (w_u * gain) @ sae.W_dec[f]
    assert [p["logit"] for p in info["promoted"]] == pytest.approx(logits.topk(10).values.tolist(), abs=1e-4)
    assert [p["logit"] for p in info["suppressed"]] == pytest.approx((-logits).topk(10).values.neg().tolist(), abs=1e-4)
    assert info["promoted"][0]["token"] == model.decode_each([int(logits.argmax())])[0]
    assert info["density"] == pytest.approx(float(dash.density[f])) and len(info["contexts"]) == 4
    assert info["label"] and info["label"] == feature_label(model, sae, dash, f)
    bare = feature_info(model, sae, None, f)
    assert bare["density"] is None and bare["contexts"] == [] and bare["label"].startswith("→ ")
    assert [p["token"] for p in bare["promoted"]] == [p["token"] for p in info["promoted"]]
    assert [p["logit"] for p in bare["suppressed"]] == pytest.approx([p["logit"] for p in info["suppressed"]], abs=1e-5)
    with pytest.raises(LoupeError, match="out of range") as err:
        feature_info(model, sae, dash, 64)
    assert err.value.code == "bad_message"


def test_stored_logit_tables(tmp_path: Path, model: loupe.HookedModel, rows: torch.Tensor) -> None:
    """The dashboard's promoted/suppressed tables equal float64 logit effects of every feature; a dashboard saved
    without them (older files) still loads, and its cards compute them from the weights."""
    sae = model.saes["s"]
    dash = compute_dashboard(model, sae, rows[:4], n_contexts=2, window=4)
    w_u = model.hf.get_output_embeddings().weight.detach().double()
    gain = model.adapter.module(model.hf, "final_norm").weight.detach().double()
    effects = sae.W_dec.double() @ (w_u * gain).T  # [F, vocab]
    assert dash.logit_ids is not None and dash.logit_values is not None and dash.logit_ids.shape == (64, 2, 10)
    up, down = effects.topk(10, dim=1), effects.neg().topk(10, dim=1)
    torch.testing.assert_close(dash.logit_values[:, 0].double(), up.values, atol=1e-4, rtol=0)
    torch.testing.assert_close(dash.logit_values[:, 1].double(), down.values.neg(), atol=1e-4, rtol=0)
    picked = effects.gather(1, dash.logit_ids[:, 0].long())  # ties aside, the ids are the ones with those values
    torch.testing.assert_close(picked, up.values, atol=1e-4, rtol=0)
    old = Dashboard(**{**dash.__dict__, "logit_ids": None, "logit_values": None})
    old.save(tmp_path)
    loaded = Dashboard.load(tmp_path, sae.d_sae)
    assert loaded is not None and loaded.logit_ids is None
    computed, stored = (feature_info(model, sae, d, 5)["promoted"] for d in (loaded, dash))
    assert [p["token"] for p in computed] == [p["token"] for p in stored]
    assert [p["logit"] for p in computed] == pytest.approx([p["logit"] for p in stored], abs=1e-5)
    dash.logit_ids, dash.logit_values = dash.logit_ids[:3], dash.logit_values[:3]
    dash.save(tmp_path)
    with pytest.raises(LoupeError, match=r"logit table of shape \[3, 2, 10\], not \[64, 2, K\]"):
        Dashboard.load(tmp_path, 64)


def test_search(model: loupe.HookedModel, rows: torch.Tensor) -> None:
    sae = model.saes["s"]
    token = " the"
    tid = model.tokenizer.encode(token, add_special_tokens=False)[0]
    w_u = model.hf.get_output_embeddings().weight.detach()
    gain = model.adapter.module(model.hf, "final_norm").weight.detach()
    scores = sae.W_dec @ (w_u[tid] * gain)
    hits = search.by_token(model, sae, token, 5)
    assert [i for i, _ in hits] == scores.topk(5).indices.tolist()
    with pytest.raises(LoupeError, match="2 tokens"):
        search.by_token(model, sae, " the cat", 5)

    dash = compute_dashboard(model, sae, rows, n_contexts=4, window=6)
    f = int(dash.density.argmax())
    ctx = dash.contexts(f, model.decode_each)[0]
    needle = "".join(ctx["tokens"][-3:]).upper()  # case-insensitive
    found = dict(search.by_text(model, dash, sae, needle, 64))
    assert f in found and found[f] >= ctx["max"] - 1e-3
    for g, score in found.items():
        assert any(needle.lower() in "".join(c["tokens"]).lower() for c in dash.contexts(g, model.decode_each))
        assert score > 0
    with pytest.raises(LoupeError, match="no dashboard") as err:
        search.by_text(model, None, sae, "x", 5)
    assert err.value.code == "not_found"

    prompt = "The quick brown fox jumps over the lazy dog"
    tokens = model.to_tokens(prompt)
    acts = model.run(tokens, features=[sae]).features["s"].dense()[0]
    expected = acts[[1, 3, tokens.shape[1] - 1]].sum(0)
    hits = search.by_span(model, sae, tokens, [1, 3, -1], 4)
    assert [i for i, _ in hits] == expected.topk(4).indices.tolist()
    assert [s for _, s in hits] == pytest.approx(expected.topk(4).values.tolist(), abs=1e-5)
    with pytest.raises(LoupeError, match="positions"):
        search.by_span(model, sae, tokens, [99], 4)


def test_contrast(model: loupe.HookedModel) -> None:
    sae = model.saes["s"]
    a, b = ["I love this", "What a lovely day it is"], ["I hate that"]

    def per_prompt(prompts: list[str]) -> torch.Tensor:
        return torch.stack([model.run(p, features=[sae]).features["s"].dense()[0].amax(0) for p in prompts])

    mean_a, mean_b = per_prompt(a).mean(0), per_prompt(b).mean(0)
    hits = search.contrast(model, sae, a, b, 5)
    assert [h[0] for h in hits] == (mean_a - mean_b).topk(5).indices.tolist()
    for i, score, ma, mb in hits:
        assert score == pytest.approx(ma - mb, abs=1e-5)
        assert ma == pytest.approx(float(mean_a[i]), abs=1e-5) and mb == pytest.approx(float(mean_b[i]), abs=1e-5)
