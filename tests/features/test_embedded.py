"""Features on the embedded SmolLM2-135M with an SAE of the shipped shape (TopK, d_sae 8192, k 32, layer 10)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

import loupe
from loupe.features.sae import SAE
from tests.features.helpers import random_sae

IOI = "When Mary and John went to the store, John gave a drink to"
HOOK = "blocks.10.hook_resid_post"


@pytest.fixture
def sae(smol: loupe.HookedModel) -> Iterator[SAE]:
    s = smol.add_sae(random_sae("topk", d_in=576, d_sae=8192, k=32, hook=HOOK, id="big", scale=0.05))
    yield s
    smol.saes.pop("big")


def test_outputs_unchanged_and_features_equal_the_encoding(smol: loupe.HookedModel, sae: SAE) -> None:
    plain = smol.run(IOI)
    res = smol.run(IOI, capture=[HOOK], features=["big"], feature_k=32)
    assert (res.logits - plain.logits).abs().max() <= 1e-5
    acts = res.features["big"]
    torch.testing.assert_close(acts.dense(), sae.encode(res.cache[HOOK]), rtol=0, atol=0)
    assert int((acts.dense() > 0).sum(-1).max()) <= 32 and bool((acts.values[..., 0] > 0).all())


def test_edits_on_the_real_model(smol: loupe.HookedModel, sae: SAE) -> None:
    clean = smol.run(IOI, capture=[HOOK], features=["big"])
    f = int(clean.features["big"].ids[0, -1, 0])
    a = float(clean.features["big"].dense()[0, -1, f])
    same = smol.run(IOI, interventions=[loupe.Feature(sae="big", index=f, mode="set", value=a, positions=(-1,))])
    assert (same.logits - clean.logits).abs().max() <= 1e-4  # set to its own value: nothing moves
    steer = loupe.Feature(sae="big", index=f, mode="add", value=400.0)
    steered = smol.run(IOI, capture=[HOOK], interventions=[steer])
    expected = clean.cache[HOOK][0, -1] + 400.0 * sae.W_dec[f]
    torch.testing.assert_close(steered.cache[HOOK][0, -1], expected, rtol=1e-5, atol=1e-3)
    assert steered.top_k(1)[0][0] != clean.top_k(1)[0][0]
