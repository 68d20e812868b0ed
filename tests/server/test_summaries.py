"""Summaries without a server: thumbnail pooling bins and the bytes of the default view."""

from __future__ import annotations

import math

import pytest
import torch

from loupe.analysis.lens_decoder import LensDecoder, lens_decoder
from loupe.engine.layer_groups import LayerGroups, group_ends
from loupe.engine.scheduler import Scheduler
from loupe.server.summaries import BatchLens, LensSlot, layer_summary, lens_summary, needed_hooks, thumbnails

IOI = "When Mary and John went to the store, John gave a drink to"


def test_thumbnail_bins_are_max_pooled() -> None:
    t = 150
    pattern = torch.zeros(2, t, t)
    pattern[1, 149, 0] = 1.0  # lands in the last query bin and the first key bin
    pattern[0, 70, 71] = 0.5
    thumb = thumbnails(pattern)
    assert thumb.shape == (2, 64, 64)
    assert thumb[1, 63, 0] == 1.0 and thumb[0].max() == 0.5
    i = 70 * 64 // t  # bin i spans floor(i*T/P) .. ceil((i+1)*T/P) - 1
    assert math.floor(i * t / 64) <= 70 <= math.ceil((i + 1) * t / 64) - 1
    assert thumb[0, i, (71 * 64) // t] == 0.5


def test_short_patterns_are_sent_exactly() -> None:
    pattern = torch.rand(3, 10, 10)
    assert torch.equal(thumbnails(pattern), pattern)


@pytest.mark.parametrize("fast", [True, False])
def test_batch_lens_matches_each_row_alone(make_pair, fast: bool) -> None:
    model, _ = make_pair("llama")
    decoder = LensDecoder(model, fast=fast)
    scheduler = Scheduler(model, layer_hook=BatchLens(decoder))
    got: dict[int, list[dict]] = {0: [], 1: []}
    prompts = ["The cat sat on the mat", "Hi there"]
    try:
        futures, slots = [], []
        with scheduler.together():  # (so the worker cannot start on the first row alone)
            for i, prompt in enumerate(prompts):
                slot = LensSlot()
                slots.append(slot)

                def on_layer(layer: int, tensors: dict, i: int = i, slot: LensSlot = slot) -> None:
                    got[i].append(layer_summary(decoder, ("lens",), tensors, layer, slot)["lens"])

                hooks = needed_hooks(model.cfg.n_layers, ("lens",))
                futures.append(scheduler.submit("s", prompt, on_layer=on_layer, stream=hooks, tag=slot))
        for f in futures:
            f.result(timeout=60)
    finally:
        scheduler.close()
    assert scheduler.batches_run == 1  # both rows shared the pass, so the lens was one product per layer
    assert all(slot.filled == model.cfg.n_layers and not slot.ready for slot in slots)  # by BatchLens, all taken
    for i, prompt in enumerate(prompts):
        res = model.run(prompt, capture="blocks.*.hook_resid_post")
        assert len(got[i]) == model.cfg.n_layers
        for layer, lens in enumerate(got[i]):
            alone = lens_summary(decoder, res.cache[f"blocks.{layer}.hook_resid_post"][0])
            assert torch.equal(lens["top1"], alone["top1"]) and torch.equal(lens["top5"], alone["top5"])
            assert lens["top1_str"] == alone["top1_str"] and lens["top5_str"] == alone["top5_str"]
            torch.testing.assert_close(lens["prob"], alone["prob"], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(lens["top5_prob"], alone["top5_prob"], atol=1e-5, rtol=1e-4)


def test_layer_groups_grow_and_end_at_the_last_layer() -> None:
    assert group_ends(30) == {0, 2, 6, 14, 22, 29}
    assert group_ends(1) == {0} and group_ends(2) == {0, 1} and group_ends(4) == {0, 2, 3}
    groups: LayerGroups[str] = LayerGroups(4)
    got = [groups.add(layer, f"L{layer}") for layer in range(4)]
    assert got == [[(0, "L0")], [], [(1, "L1"), (2, "L2")], [(3, "L3")]]
    every: LayerGroups[str] = LayerGroups(3, largest=1)
    assert [len(every.add(layer, "x")) for layer in range(3)] == [1, 1, 1]


def test_grouped_lens_on_30_layers_matches_each_layer_alone(smol) -> None:
    """The scheduler hands layers on in groups; every layer still arrives, in order, with its own lens."""
    decoder = lens_decoder(smol)
    scheduler = Scheduler(smol, layer_hook=BatchLens(decoder))
    slot, got = LensSlot(), []

    def on_layer(layer: int, tensors: dict) -> None:
        got.append((layer, layer_summary(decoder, ("lens",), tensors, layer, slot)["lens"]))

    try:
        hooks = needed_hooks(smol.cfg.n_layers, ("lens",))
        scheduler.submit("s", IOI, on_layer=on_layer, stream=hooks, tag=slot).result(timeout=120)
    finally:
        scheduler.close()
    assert [layer for layer, _ in got] == list(range(smol.cfg.n_layers))
    assert slot.filled == smol.cfg.n_layers and not slot.ready
    res = smol.run(IOI, capture="blocks.*.hook_resid_post")
    for layer, lens in got:
        alone = lens_summary(decoder, res.cache[f"blocks.{layer}.hook_resid_post"][0])
        assert torch.equal(lens["top1"], alone["top1"]) and torch.equal(lens["top5"], alone["top5"])
        torch.testing.assert_close(lens["prob"], alone["prob"], atol=1e-5, rtol=1e-4)
