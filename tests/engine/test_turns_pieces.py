"""The fair model lock (round-robin turns across keys) and long jobs cut into pieces."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from loupe.engine.pieces import prompt_activations
from loupe.engine.turns import Turns, as_key
from loupe.errors import Cancelled

PROMPTS = ["The Eiffel Tower is in the city of Paris", "A lazy cat sat on the mat and slept all day long"]


def test_turns_alternate_between_keys() -> None:
    """A key taking turn after turn (a long job's pieces) lets a waiting key in at its next release."""
    turns, order = Turns(), []
    started = threading.Event()

    def worker(key: str, n: int) -> None:
        with as_key(key):
            for _ in range(n):
                order.append(f"{key} waits")
                with turns:
                    order.append(key)
                    started.set()
                    time.sleep(0.01)

    heavy = threading.Thread(target=worker, args=("heavy", 30))
    heavy.start()
    started.wait(10)
    light = threading.Thread(target=worker, args=("light", 3))
    light.start()
    heavy.join(60)
    light.join(60)
    waits = [i for i, e in enumerate(order) if e == "light waits"]
    grants = [i for i, e in enumerate(order) if e == "light"]
    assert len(grants) == 3
    for w, g in zip(waits, grants, strict=True):
        assert order[w:g].count("heavy") <= 2, order  # the turn in progress (and one that began as it asked)
    assert turns.turns >= 3


def test_turns_are_reentrant_and_checked() -> None:
    turns = Turns()
    with turns, turns:
        pass
    with pytest.raises(RuntimeError):
        turns.release()


@pytest.mark.parametrize("reduce", ["last", "mean"])
def test_pieces_give_the_whole_prompts_activations(make_pair, reduce: str) -> None:
    model, _ = make_pair("llama")
    hook = "blocks.1.hook_resid_post"
    got = prompt_activations(model, PROMPTS, hook, reduce, piece_tokens=3)  # type: ignore[arg-type]
    for row, prompt in zip(got, PROMPTS, strict=True):
        acts = model.run(prompt, capture=[hook]).cache[hook][0].float()
        want = acts[-1] if reduce == "last" else acts.mean(0)
        torch.testing.assert_close(row, want, atol=1e-4, rtol=1e-4)


def test_pieces_stop_when_cancelled(make_pair) -> None:
    model, _ = make_pair("llama")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        prompt_activations(model, PROMPTS, "blocks.0.hook_resid_post", "last", 2, cancel)


def test_pieces_run_only_the_layers_up_to_the_hooks(make_pair) -> None:
    model, _ = make_pair("llama")
    blocks = list(model.adapter.blocks(model.hf))
    assert len(blocks) > 1
    calls = [0] * len(blocks)
    handles = [
        b.register_forward_hook(lambda *_a, i=i: calls.__setitem__(i, calls[i] + 1)) for i, b in enumerate(blocks)
    ]
    try:
        got = prompt_activations(model, PROMPTS[:1], "blocks.0.hook_resid_post", "last", piece_tokens=2)
    finally:
        for h in handles:
            h.remove()
    pieces = -(-model.to_tokens(PROMPTS[0]).shape[1] // 2)
    assert calls == [pieces] + [0] * (len(blocks) - 1)
    want = model.run(PROMPTS[0], capture=["blocks.0.hook_resid_post"]).cache["blocks.0.hook_resid_post"][0, -1]
    torch.testing.assert_close(got[0], want.float(), atol=1e-4, rtol=1e-4)


def test_a_cancelled_waiter_leaves_the_queue() -> None:
    """A job cancelled while it waits for its turn gives up at once instead of waiting to run a pass."""
    turns = Turns()
    cancel = threading.Event()
    outcome: list[str] = []

    def waiter() -> None:
        try:
            with as_key("b"), turns.turn(cancel):
                outcome.append("ran")
        except Cancelled:
            outcome.append("cancelled")

    with turns:
        thread = threading.Thread(target=waiter)
        thread.start()
        while not turns._waiting:  # queued behind this thread's turn
            time.sleep(0.01)
        cancel.set()
        thread.join(30)
        assert outcome == ["cancelled"] and not turns._waiting
    with turns:  # the turn is free for the next one
        pass
