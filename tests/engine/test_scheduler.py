"""The batching scheduler: every request gets exactly what it would get alone, fairly, and fails alone."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import torch

import loupe
from loupe.engine.scheduler import Scheduler

PROMPTS = [
    "The cat sat on the mat",
    "A much longer prompt about the history of the Roman empire and its roads",
    "Hi",
    "Seven eight nine ten",
]


def interventions_for(i: int, d_model: int) -> list[dict[str, Any]]:
    """A different intervention set per request: none, head ablations, steering, mean ablation, patches."""
    options: list[list[dict[str, Any]]] = [
        [],
        [{"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": i % 4}],
        [{"op": "steer", "hook": "blocks.1.hook_resid_pre", "vector": [0.3 * (i + 1)] * d_model, "positions": [-1]}],
        [{"op": "ablate", "hook": "blocks.1.hook_mlp_out", "mode": "mean"}],
        [
            {"op": "scale", "hook": "blocks.0.mlp.hook_post", "index": i, "factor": 3.0},
            {"op": "ablate", "hook": "blocks.1.attn.hook_pattern", "head": 1, "positions": [0, -1]},
        ],
    ]
    return options[i % len(options)]


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_sixteen_requests_match_running_alone(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    scheduler = Scheduler(model, max_rows=8)
    try:
        capture = ["blocks.1.attn.hook_pattern", "blocks.0.hook_resid_post"]
        jobs = []
        for i in range(16):
            prompt = PROMPTS[i % len(PROMPTS)]
            ivs = interventions_for(i, model.cfg.d_model)
            jobs.append((prompt, ivs, scheduler.submit(f"session{i % 5}", prompt, capture, ivs)))
        for prompt, ivs, future in jobs:
            got = future.result(timeout=60)
            alone = model.run(prompt, capture=capture, interventions=ivs)
            torch.testing.assert_close(got.logits, alone.logits, atol=1e-5, rtol=1e-5)
            for name in capture:
                torch.testing.assert_close(got.cache[name], alone.cache[name], atol=1e-5, rtol=1e-5)
        assert scheduler.batches_run < 16  # requests really shared forward passes
    finally:
        scheduler.close()


def test_on_layer_gets_only_its_own_rows(make_pair) -> None:
    model, _ = make_pair("llama")
    scheduler = Scheduler(model)
    seen: dict[int, list[tuple[int, tuple[int, ...]]]] = {0: [], 1: []}
    gate = threading.Event()
    try:
        # Hold the worker so both requests land in one batch.
        blocker = scheduler.submit("x", "warm", on_layer=lambda _l, _t: gate.wait(5))
        futures = [
            scheduler.submit(
                str(i),
                p,
                "blocks.*.hook_resid_post",
                on_layer=lambda layer, t, i=i: seen[i].append((layer, tuple(next(iter(t.values())).shape))),
            )
            for i, p in enumerate(PROMPTS[:2])
        ]
        gate.set()
        blocker.result(timeout=30)
        lengths = [f.result(timeout=30).tokens.shape[1] for f in futures]
        for i in (0, 1):
            assert [s[0] for s in seen[i]] == list(range(model.cfg.n_layers))
            assert all(shape == (1, lengths[i], model.cfg.d_model) for _, shape in seen[i])
    finally:
        scheduler.close()


def test_bad_requests_fail_alone_and_cancel_works(make_pair) -> None:
    model, _ = make_pair("llama")
    scheduler = Scheduler(model)
    try:
        with pytest.raises(loupe.LoupeError, match="head 9 out of range"):
            scheduler.submit("a", "hello", interventions=[{"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 9}])
        cancel = threading.Event()
        cancel.set()
        doomed = scheduler.submit("b", "hello there", cancel=cancel)
        fine = scheduler.submit("c", "hello there")
        with pytest.raises(loupe.Cancelled):
            doomed.result(timeout=30)
        assert fine.result(timeout=30).logits.shape[1] == 2
    finally:
        scheduler.close()


def test_forget_drops_a_keys_queued_requests_at_once(make_pair) -> None:
    """A session that ends takes its runs out of the queue now, not when their round-robin turn comes."""
    model, _ = make_pair("llama")
    scheduler = Scheduler(model)
    gate = threading.Event()
    try:
        blocker = scheduler.submit("z", "warm", on_layer=lambda _l, _t: gate.wait(30))
        while scheduler.pending():  # the worker holds the blocker's batch: what follows stays queued
            time.sleep(0.01)
        gone = [scheduler.submit("a", "hello there") for _ in range(3)]
        kept = scheduler.submit("b", "hello there")
        assert scheduler.pending("a") == 3
        scheduler.forget("a")
        assert scheduler.pending("a") == 0 and scheduler.pending("b") == 1
        for f in gone:
            with pytest.raises(loupe.Cancelled):
                f.result(timeout=1)
        gate.set()
        assert kept.result(timeout=30).logits.shape[1] == 2 and blocker.result(timeout=30) is not None
    finally:
        gate.set()
        scheduler.close()


def test_round_robin_is_fair_across_keys(make_pair) -> None:
    model, _ = make_pair("llama")
    scheduler = Scheduler(model, max_rows=2)
    order: list[str] = []
    gate, started = threading.Event(), threading.Event()
    try:
        blocker = scheduler.submit("z", "warm", on_layer=lambda _l, _t: started.set() or gate.wait(5))
        assert started.wait(30)  # the blocker runs alone: the others queue behind it, all of them at once
        heavy = [
            scheduler.submit("heavy", "x y z", on_layer=lambda layer, _t: order.append("heavy") if layer == 0 else None)
            for _ in range(6)
        ]
        light = scheduler.submit(
            "light", "x y z", on_layer=lambda layer, _t: order.append("light") if layer == 0 else None
        )
        gate.set()
        for f in [blocker, *heavy, light]:
            f.result(timeout=30)
        assert order.index("light") <= 1  # served in the first batch after the blocker, not after all of heavy
    finally:
        scheduler.close()


def test_streamed_points_are_delivered_per_row_and_dropped(make_pair) -> None:
    model, _ = make_pair("llama")
    scheduler = Scheduler(model)
    shapes: list[tuple[int, ...]] = []
    try:
        future = scheduler.submit(
            "s",
            "Hello there friend",
            stream="blocks.0.attn.hook_pattern",
            on_layer=lambda _l, t: shapes.extend(tuple(x.shape) for x in t.values()),
        )
        res = future.result(timeout=30)
        assert res.cache == {} and shapes == [(1, 4, 3, 3)]
    finally:
        scheduler.close()


def test_together_runs_a_request_and_its_clean_twin_in_one_pass(make_pair) -> None:
    model, _ = make_pair("llama")
    scheduler = Scheduler(model, max_rows=1)  # without `together`, every request is a pass of its own
    ivs = interventions_for(1, model.cfg.d_model)
    try:
        with scheduler.together():
            main = scheduler.submit("a", PROMPTS[1], interventions=ivs)
            clean = scheduler.submit("a", PROMPTS[1])
        other = scheduler.submit("b", PROMPTS[0])
        torch.testing.assert_close(main.result(timeout=60).logits, model.run(PROMPTS[1], interventions=ivs).logits)
        torch.testing.assert_close(clean.result(timeout=60).logits, model.run(PROMPTS[1]).logits)
        other.result(timeout=60)
        assert scheduler.batches_run == 2
        scheduler.submit("a", PROMPTS[2]).result(timeout=60)
        scheduler.submit("a", PROMPTS[2]).result(timeout=60)
        assert scheduler.batches_run == 4
    finally:
        scheduler.close()


def test_sessions_sending_back_to_back_keep_sharing_passes(make_pair) -> None:
    """After a pass of several keys the worker waits for each of them to queue again (up to `gather_s`, here
    far longer than the test), so the next pass holds them all; after a pass of one key nothing waits."""
    model, _ = make_pair("llama")
    scheduler = Scheduler(model, gather_s=60)
    try:
        with scheduler.together():  # (holds the worker off until both are queued)
            first = [scheduler.submit(k, PROMPTS[0]) for k in ("a", "b")]
        for f in first:
            f.result(timeout=30)
        assert scheduler.batches_run == 1
        again_a = scheduler.submit("a", PROMPTS[1])
        time.sleep(0.3)
        assert not again_a.done()  # waiting for "b"
        again_b = scheduler.submit("b", PROMPTS[2])
        torch.testing.assert_close(again_a.result(timeout=30).logits, model.run(PROMPTS[1]).logits)
        torch.testing.assert_close(again_b.result(timeout=30).logits, model.run(PROMPTS[2]).logits)
        assert scheduler.batches_run == 2
    finally:
        scheduler.close()
    lone = Scheduler(model, gather_s=60)
    try:
        for _ in range(3):
            lone.submit("a", PROMPTS[0]).result(timeout=30)  # well under gather_s: a lone key never waits
    finally:
        lone.close()


@pytest.mark.parametrize("arch", ["llama", "gpt2", "neox"])
def test_a_cancelled_row_leaves_the_batch_at_the_next_layer(make_pair, arch: str) -> None:
    """Row 1 is cancelled during layer 0: from layer 1 on the pass runs the other rows only, and they (with
    their own interventions, re-aimed at their new row numbers) get exactly what they would get alone."""
    model, _ = make_pair(arch)
    scheduler = Scheduler(model)
    block = model.adapter.blocks(model.hf)[1]
    widths: list[int] = []
    out = block.register_forward_hook(lambda _m, _a, o: widths.append((o[0] if isinstance(o, tuple) else o).shape[0]))
    cancel = threading.Event()
    capture = ["hook_embed", "blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.1.attn.hook_pattern"]
    try:
        with scheduler.together():  # (one pass: the worker cannot start before all three are queued)
            first = scheduler.submit("a", PROMPTS[0], capture, interventions_for(1, model.cfg.d_model))
            doomed = scheduler.submit(
                "b", PROMPTS[1], capture, on_layer=lambda layer, _t: cancel.set() if layer == 0 else None, cancel=cancel
            )
            last = scheduler.submit("c", PROMPTS[3], capture, interventions_for(4, model.cfg.d_model))
        with pytest.raises(loupe.Cancelled):
            doomed.result(timeout=60)
        for future, prompt, i in ((first, PROMPTS[0], 1), (last, PROMPTS[3], 4)):
            got = future.result(timeout=60)
            alone = model.run(prompt, capture=capture, interventions=interventions_for(i, model.cfg.d_model))
            torch.testing.assert_close(got.logits, alone.logits, atol=1e-5, rtol=1e-5)
            for name in capture:
                torch.testing.assert_close(got.cache[name], alone.cache[name], atol=1e-5, rtol=1e-5)
        assert scheduler.batches_run == 1 and widths[0] == 2  # layer 1 ran two rows, not three
    finally:
        out.remove()
        scheduler.close()


@pytest.mark.parametrize("arch", ["llama", "gpt2", "neox"])
def test_last_logits_unembeds_only_each_rows_last_position(make_pair, arch: str) -> None:
    model, _ = make_pair(arch)
    scheduler = Scheduler(model)
    ivs = [interventions_for(i, model.cfg.d_model) for i in (0, 1, 2, 4)]  # (3, a mean ablation, runs a pre-pass)
    unembed = model.hf.get_output_embeddings()
    seen: list[int] = []  # positions the unembedding saw, per pass
    handle = unembed.register_forward_hook(lambda _m, _a, out: seen.append(out.shape[1]))
    try:
        with scheduler.together():  # one pass of rows of different lengths (right-padded)
            futures = [scheduler.submit("s", p, interventions=ivs[i], last_logits=True) for i, p in enumerate(PROMPTS)]
        results = [f.result(timeout=60).logits for f in futures]
        assert seen == [len({len(model.to_tokens(p)[0]) for p in PROMPTS})]  # one pass; a position per row length
        for i, (prompt, got) in enumerate(zip(PROMPTS, results, strict=True)):
            assert got.shape == (1, 1, model.cfg.d_vocab)
            torch.testing.assert_close(
                got, model.run(prompt, interventions=ivs[i]).logits[:, -1:], atol=1e-5, rtol=1e-5
            )
        with scheduler.together():  # rows that want every position's logits, as logits or a capture, get them
            short = scheduler.submit("s", PROMPTS[0], last_logits=True)
            captured = scheduler.submit("s", PROMPTS[1], capture=["logits"], last_logits=True)
            whole = scheduler.submit("s", PROMPTS[2])
        assert short.result(timeout=60).logits.shape[1] == 1
        torch.testing.assert_close(captured.result(timeout=60).cache["logits"], model.run(PROMPTS[1]).logits)
        torch.testing.assert_close(whole.result(timeout=60).logits, model.run(PROMPTS[2]).logits)
    finally:
        handle.remove()
        scheduler.close()
