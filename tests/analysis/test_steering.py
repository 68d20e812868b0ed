"""Steering vectors against per-prompt runs; neuron vectors against a neuron's effect on the residual."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import loupe
from loupe.analysis import embedding_vector, neuron_vector, steering_vector
from tests.conftest import ARCHS

Pair = Callable[[str], tuple[loupe.HookedModel, Any]]
POS = ["I love this film, it is wonderful", "What a great day"]
NEG = ["I hate it", "This is a terrible, awful and boring movie"]


def per_prompt(model: loupe.HookedModel, prompts: list[str], layer: int, last: bool) -> torch.Tensor:
    vecs = []
    for p in prompts:
        r = model.run(p, capture=[f"blocks.{layer}.hook_resid_post"]).cache[f"blocks.{layer}.hook_resid_post"][0]
        vecs.append(r[-1] if last else r.mean(0))
    return torch.stack(vecs).mean(0)


@pytest.mark.parametrize("reduce", ["mean", "last"])
def test_steering_vector_is_the_mean_difference_without_padding(make_pair: Pair, reduce: str) -> None:
    model, _ = make_pair("llama")
    v = steering_vector(model, POS, NEG, layer=1, reduce=reduce)  # type: ignore[arg-type]
    want = per_prompt(model, POS, 1, reduce == "last") - per_prompt(model, NEG, 1, reduce == "last")
    torch.testing.assert_close(v, want, atol=1e-4, rtol=1e-4)
    steered = model.run("Hello there", interventions=[{"op": "steer", "hook": "blocks.1.hook_resid_post", "vector": v}])
    assert torch.isfinite(steered.logits).all()
    with pytest.raises(loupe.LoupeError):
        steering_vector(model, [], NEG, layer=1)
    with pytest.raises(loupe.LoupeError):
        steering_vector(model, POS, NEG, layer=7)


@pytest.mark.parametrize("arch", ARCHS)
def test_neuron_vector_is_what_the_neuron_writes(make_pair: Pair, arch: str) -> None:
    """Doubling neuron i's activation adds act_i * W_out[i] to the MLP output."""
    model, _ = make_pair(arch)
    prompt, i = "When Mary and John went", 5
    base = model.run(prompt, capture=["blocks.0.mlp.hook_post", "blocks.0.hook_mlp_out"])
    scaled = model.run(
        prompt,
        capture=["blocks.0.hook_mlp_out"],
        interventions=[loupe.Scale(hook="blocks.0.mlp.hook_post", index=i, factor=2.0)],
    )
    act = base.cache["blocks.0.mlp.hook_post"][0, :, i]
    delta = scaled.cache["blocks.0.hook_mlp_out"][0] - base.cache["blocks.0.hook_mlp_out"][0]
    torch.testing.assert_close(delta, act[:, None] * neuron_vector(model, 0, i), atol=1e-5, rtol=1e-4)
    assert float(neuron_vector(model, 0, i, normalize=True).norm()) == pytest.approx(1.0)


def test_embedding_vector(make_pair: Pair) -> None:
    model, _ = make_pair("gpt2")
    v = embedding_vector(model, " Mary", normalize=False)
    tok = int(model.to_tokens(" Mary")[0, 0])
    res = model.run(" Mary", capture=["hook_embed"])
    torch.testing.assert_close(v, res.cache["hook_embed"][0, 0])
    assert float(embedding_vector(model, tok).norm()) == pytest.approx(1.0)
    with pytest.raises(loupe.LoupeError, match="single token"):
        embedding_vector(model, " Mary and John")
