"""Generation: same tokens as Hugging Face's generate, steering applied at every step, per-step capture."""

from __future__ import annotations

import threading

import pytest
import torch

import loupe
from tests.conftest import ARCHS

PROMPT = "Once upon a time"


def hf_greedy(model: loupe.HookedModel, n: int) -> list[int]:
    tokens, mask = model.encode(PROMPT)
    with torch.no_grad():
        out = model.hf.generate(
            input_ids=tokens,
            attention_mask=mask,
            max_new_tokens=n,
            do_sample=False,
            pad_token_id=model.tokenizer.pad_token_id,
            eos_token_id=None,
        )
    return out[0, tokens.shape[1] :].tolist()


@pytest.mark.parametrize("arch", ARCHS)
def test_greedy_matches_hf_generate(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    steps = list(model.generate(PROMPT, max_new_tokens=8, stop_at_eos=False))
    assert [s.token for s in steps] == hf_greedy(model, 8)
    assert all(0 < s.prob <= 1 for s in steps)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_steered_generation_matches_a_hooked_hf_generate(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    vec = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0)) * 4
    block = model.adapter.blocks(model.hf)[0]
    handle = block.register_forward_hook(lambda _m, _a, out: out + vec)
    try:
        expected = hf_greedy(model, 8)
    finally:
        handle.remove()
    steer = loupe.Steer(hook="blocks.0.hook_resid_post", vector=vec)
    got = [s.token for s in model.generate(PROMPT, max_new_tokens=8, interventions=[steer], stop_at_eos=False)]
    assert got == expected
    assert got != hf_greedy(model, 8)


def test_capture_each_step_sees_the_whole_context(make_pair) -> None:
    model, _ = make_pair("llama")
    n_prompt = model.to_tokens(PROMPT).shape[1]
    steps = list(model.generate(PROMPT, max_new_tokens=4, capture="blocks.1.attn.hook_pattern", stop_at_eos=False))
    shapes = [tuple(s.cache["blocks.1.attn.hook_pattern"].shape) for s in steps]
    assert shapes[0] == (1, 4, n_prompt, n_prompt)
    assert shapes[1:] == [(1, 4, 1, n_prompt + i) for i in range(1, 4)]
    for s in steps[1:]:
        torch.testing.assert_close(s.cache["blocks.1.attn.hook_pattern"].sum(-1), torch.ones(1, 4, 1))


def test_sampling_is_reproducible_with_a_seed(make_pair) -> None:
    model, _ = make_pair("llama")
    a = [s.token for s in model.generate(PROMPT, max_new_tokens=6, temperature=1.0, seed=7, stop_at_eos=False)]
    b = [s.token for s in model.generate(PROMPT, max_new_tokens=6, temperature=1.0, seed=7, stop_at_eos=False)]
    assert a == b


def test_batched_left_padded_generation_matches_single(make_pair) -> None:
    model, _ = make_pair("llama")
    prompts = ["Hi", "A much longer prompt than the first one"]
    batch = list(model.generate(prompts, max_new_tokens=5, stop_at_eos=False))
    for row, prompt in enumerate(prompts):
        single = [s.token for s in model.generate(prompt, max_new_tokens=5, stop_at_eos=False)]
        assert [s.tokens[row] for s in batch] == single


def test_cancel_and_bad_arguments(make_pair) -> None:
    model, _ = make_pair("llama")
    cancel = threading.Event()
    gen = model.generate(PROMPT, max_new_tokens=50, cancel=cancel, stop_at_eos=False)
    next(gen)
    cancel.set()
    with pytest.raises(loupe.Cancelled):
        next(gen)
    with pytest.raises(loupe.LoupeError, match="max_new_tokens"):
        model.generate(PROMPT, max_new_tokens=0)
    with pytest.raises(loupe.LoupeError, match="exceed the model's context"):
        model.generate(PROMPT, max_new_tokens=1000)
