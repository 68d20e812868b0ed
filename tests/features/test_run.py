"""Features in runs and feature interventions, against hand-written hooks on the plain Hugging Face model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import loupe
from loupe.errors import LoupeError
from loupe.features.sae import SAE
from tests.features.helpers import random_sae

PROMPT = "The quick brown fox jumps over the lazy dog and then"
HOOK = "blocks.0.hook_resid_post"


@pytest.fixture
def model(make_pair: Any) -> Iterator[loupe.HookedModel]:
    """The tiny Llama (d_model 32) with SAE "s" (topk) and "j" (jumprelu) attached at blocks.0.hook_resid_post."""
    m, _ = make_pair("llama")
    m.add_sae(random_sae("topk", hook=HOOK, id="s"))
    m.add_sae(random_sae("jumprelu", hook=HOOK, id="j", seed=3))
    yield m
    m.saes.clear()


def hand_activation(sae: SAE, x: torch.Tensor, f: int) -> torch.Tensor:
    """a_f per token in float64 numpy, from the weights (top-k by sorting for topk)."""
    xs = x.detach().double().numpy()
    pre = (xs - sae.b_dec.double().numpy()) @ sae.W_enc.double().numpy() + sae.b_enc.double().numpy()
    if sae.cfg.architecture == "topk":
        kth = -np.sort(-pre, axis=-1)[..., sae.cfg.k - 1 : sae.cfg.k]
        a = np.where(pre >= kth, np.maximum(pre, 0), 0.0)[..., f]
    elif sae.cfg.architecture == "jumprelu":
        assert sae.threshold is not None
        a = np.where(pre[..., f] > float(sae.threshold[f]), np.maximum(pre[..., f], 0), 0.0)
    else:
        a = np.maximum(pre[..., f], 0)
    return torch.from_numpy(a).float()


def hand_logits(model: loupe.HookedModel, edit: Any, prompt: str | list[str] = PROMPT) -> torch.Tensor:
    """Logits of the plain HF forward with `edit(resid) -> resid` as a forward hook on block 0 (no Loupe hooks)."""
    tokens, mask = model.encode(prompt)
    block: nn.Module = model.adapter.blocks(model.hf)[0]
    handle = block.register_forward_hook(lambda _m, _a, out: edit(out))
    try:
        with torch.no_grad():
            return model.hf(input_ids=tokens, attention_mask=mask).logits
    finally:
        handle.remove()


def test_features_equal_encoding_the_captured_activation(model: loupe.HookedModel) -> None:
    steer = {"op": "steer", "hook": "blocks.0.hook_resid_pre", "vector": [0.1] * 32}
    prompts = [PROMPT, "Hello there"]
    res = model.run(prompts, capture=[HOOK], features=["s", model.saes["j"]], feature_k=5, interventions=[steer])
    for sid in ("s", "j"):
        acts = res.features[sid]
        expected = model.saes[sid].encode(res.cache[HOOK])
        torch.testing.assert_close(acts.dense(), expected, rtol=0, atol=0)
        ids, values = acts.top()
        assert ids.shape == values.shape == (2, res.tokens.shape[1], 5)
        torch.testing.assert_close(values, expected.gather(-1, ids), rtol=0, atol=0)
        assert bool((values[..., :-1] >= values[..., 1:]).all())  # descending
        assert (values[..., 0] > 0).all()  # something fires on every token
    s_acts = res.features["s"].dense()
    assert int((s_acts > 0).sum(-1).max()) <= 8
    hand = hand_activation(model.saes["s"], res.cache[HOOK], 7)
    torch.testing.assert_close(s_acts[..., 7], hand, atol=1e-5, rtol=1e-5)


def test_features_leave_outputs_and_captures_alone(model: loupe.HookedModel) -> None:
    seen: list[list[str]] = []
    plain = model.run(PROMPT)
    res = model.run(PROMPT, features=["s", "j"], on_layer=lambda _l, t: seen.append(sorted(t)))
    assert (res.logits - plain.logits).abs().max() <= 1e-5
    assert res.cache == {} and seen == [[], []]  # the SAEs' hook was captured for the encoders only
    assert set(res.features) == {"s", "j"}


@pytest.mark.parametrize("mode", ["set", "add", "scale", "ablate"])
@pytest.mark.parametrize("sid", ["s", "j"])
def test_feature_edit_equals_hand_residual_edit(model: loupe.HookedModel, mode: str, sid: str) -> None:
    sae = model.saes[sid]
    clean = model.run(PROMPT, capture=[HOOK], features=[sid])
    f = int(clean.features[sid].ids[0, 2, 0])  # a feature that fires at position 2
    value, positions = 3.0, [1, 2, -1]

    def edit(resid: torch.Tensor) -> torch.Tensor:
        a = hand_activation(sae, resid, f)
        coef = {"set": value - a, "add": torch.full_like(a, value), "scale": (value - 1) * a, "ablate": -a}[mode]
        keep = torch.zeros_like(a, dtype=torch.bool)
        keep[:, [1, 2, resid.shape[1] - 1]] = True
        return resid + torch.where(keep, coef, 0.0).unsqueeze(-1) * sae.W_dec[f]

    iv = {"op": "feature", "sae": sid, "index": f, "mode": mode, "value": value, "positions": positions}
    got = model.run(PROMPT, interventions=[iv])
    expected = hand_logits(model, edit)
    torch.testing.assert_close(got.logits, expected, atol=1e-5, rtol=1e-5)
    assert (got.logits - clean.logits).abs().max() > 1e-3  # the edit did something


def test_set_to_own_value_changes_nothing(model: loupe.HookedModel) -> None:
    """x is kept outside the feature: setting a feature to the value it already has is the identity."""
    clean = model.run(PROMPT, features=["j"])
    f = int(clean.features["j"].ids[0, 3, 0])
    a = float(clean.features["j"].dense()[0, 3, f])
    same = model.run(PROMPT, interventions=[loupe.Feature(sae="j", index=f, mode="set", value=a, positions=(3,))])
    assert (same.logits - clean.logits).abs().max() <= 1e-5


def test_composes_and_applies_per_row(model: loupe.HookedModel) -> None:
    sae = model.saes["s"]
    vec = torch.linspace(-1, 1, 32)
    steer = loupe.Steer(hook="blocks.0.hook_resid_post", vector=vec, scale=2.0)
    feat = loupe.Feature(sae=sae, index=5, mode="add", value=4.0)

    def edit(resid: torch.Tensor) -> torch.Tensor:
        return resid + 2.0 * vec + 4.0 * sae.W_dec[5]

    got = model.run(PROMPT, interventions=[steer, feat])
    torch.testing.assert_close(got.logits, hand_logits(model, edit), atol=1e-5, rtol=1e-5)
    batch = model.run([PROMPT, PROMPT], interventions=[loupe.Feature(sae="s", index=5, mode="ablate", rows=(1,))])
    alone = model.run(PROMPT, interventions=[loupe.Feature(sae="s", index=5, mode="ablate")])
    torch.testing.assert_close(batch.logits[0], model.run(PROMPT).logits[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batch.logits[1], alone.logits[0], atol=1e-5, rtol=1e-5)


def test_generate_applies_the_edit_at_every_step(model: loupe.HookedModel) -> None:
    iv = {"op": "feature", "sae": "s", "index": 11, "mode": "add", "value": 30.0}
    steps = [s.token for s in model.generate(PROMPT, max_new_tokens=6, interventions=[iv], stop_at_eos=False)]
    tokens = model.to_tokens(PROMPT)
    for step in range(6):  # greedy without a KV cache, the whole sequence re-run each step
        nxt = int(model.run(tokens, interventions=[iv]).logits[0, -1].argmax())
        assert nxt == steps[step]
        tokens = torch.cat([tokens, torch.tensor([[nxt]])], dim=1)
    plain = [s.token for s in model.generate(PROMPT, max_new_tokens=6, stop_at_eos=False)]
    assert plain != steps


@pytest.mark.parametrize(
    ("iv", "words"),
    [
        ({"sae": "nope", "index": 0, "value": 1.0}, ["unknown SAE 'nope'", "attached: ['j', 's']"]),
        ({"sae": "s", "index": 96, "value": 1.0}, ["index 96 out of range", "0..95"]),
        ({"sae": "s", "index": -1, "mode": "ablate"}, ["index -1 out of range"]),
        ({"sae": "s", "index": 3}, ["'set' needs a 'value'"]),
        ({"sae": "s", "index": 3, "mode": "boost", "value": 1.0}, ["'mode' must be one of"]),
        ({"sae": "s", "index": 3, "value": "big"}, ["'value' must be a number"]),
        ({"sae": "s", "index": 3, "value": 1.0, "hook": "blocks.1.hook_resid_post"}, ["is not SAE 's'"]),
        ({"sae": "s", "index": 3, "value": 1.0, "head": 1}, ["'head' does not apply"]),
        ({"sae": 7, "index": 3, "value": 1.0}, ["needs 'sae'"]),
    ],
)
def test_bad_feature_interventions(model: loupe.HookedModel, iv: dict[str, Any], words: list[str]) -> None:
    with pytest.raises(LoupeError) as info:
        model.run(PROMPT, interventions=[{"op": "feature", **iv}])
    assert info.value.code == "bad_intervention"
    for w in words:
        assert w in info.value.message, info.value.message
    assert model.run(PROMPT, features=["s"]).features["s"].ids.shape[-1] == 16  # still usable


def test_unknown_or_misfit_sae_in_a_run(model: loupe.HookedModel) -> None:
    with pytest.raises(LoupeError, match="unknown SAE 'x'") as info:
        model.run(PROMPT, features=["x"])
    assert info.value.code == "not_found"
    with pytest.raises(LoupeError, match="d_in 16"):
        model.run(PROMPT, features=[random_sae(d_in=16, hook=HOOK)])
    with pytest.raises(LoupeError, match="already attached"):
        model.add_sae(random_sae(hook=HOOK, id="s"))
    with pytest.raises(LoupeError, match="feature_k"):
        model.run(PROMPT, features=["s"], feature_k=0)
