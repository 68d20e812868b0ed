"""Batched patching sweeps against one run per patch; attribution patching against exact linear cases."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch

import loupe
from loupe.analysis import Target, attribution_patching, correlation, iter_patch_sweep, logit_diff, patch_sweep
from loupe.analysis.patching import grid
from tests.conftest import ARCHS

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When Mary and John went to the store, Mary gave a drink to"
Pair = Callable[[str], tuple[loupe.HookedModel, Any]]


def one_by_one(model: loupe.HookedModel, over: str, base: str, source: str) -> torch.Tensor:
    """The heatmap's raw metric, one ordinary `model.run` per patch."""
    metric = logit_diff(model, " Mary", " John")
    n_pos = model.to_tokens(base).shape[1]
    rows, _, _ = grid(model, over, n_pos)  # type: ignore[arg-type]
    src = model.run(source, capture=sorted({t.hook for row in rows for t in row}))
    out = torch.zeros(len(rows), len(rows[0]))
    for r, row in enumerate(rows):
        for c, t in enumerate(row):
            pos = None if t.position is None else [t.position]
            patch = {"op": "patch", "hook": t.hook, "head": t.head, "positions": pos, "source": src}
            out[r, c] = metric(model.run(base, interventions=[patch]).logits)[0]
    return out


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("over", ["heads", "resid", "layers"])
def test_batched_sweep_equals_one_run_per_patch(make_pair: Pair, arch: str, over: str) -> None:
    model, _ = make_pair(arch)
    metric = logit_diff(model, " Mary", " John")
    seen: list[int] = []
    res = patch_sweep(model, CLEAN, CORRUPT, metric, over=over, batch_size=3, on_row=lambda r: seen.append(r.index))  # type: ignore[arg-type]
    assert seen == list(range(model.cfg.n_layers))
    torch.testing.assert_close(res.metric, one_by_one(model, over, CLEAN, CORRUPT), atol=1e-4, rtol=1e-4)
    clean_m = float(metric(model.run(CLEAN).logits)[0])
    corrupt_m = float(metric(model.run(CORRUPT).logits)[0])
    assert res.clean_metric == pytest.approx(clean_m, abs=1e-5)
    torch.testing.assert_close(res.effect, (res.metric - clean_m) / (corrupt_m - clean_m))
    if over == "resid":  # patching the whole residual at the first layer, position by position...
        assert res.effect.shape == (model.cfg.n_layers, model.to_tokens(CLEAN).shape[1])
        # ... only the differing token (" John" -> " Mary", position 9) changes anything at layer 0
        changed = res.effect[0].abs() > 1e-5
        assert changed.nonzero().flatten().tolist() == [9]
        assert float(res.effect[0, 9]) == pytest.approx(1.0, abs=1e-4)


def test_denoising_and_the_generator(make_pair: Pair) -> None:
    model, _ = make_pair("llama")
    metric = logit_diff(model, " Mary", " John")
    rows = list(iter_patch_sweep(model, CLEAN, CORRUPT, metric, over="layers", direction="denoising", batch_size=5))
    got = torch.stack([r.metric for r in rows])
    torch.testing.assert_close(got, one_by_one(model, "layers", CORRUPT, CLEAN), atol=1e-4, rtol=1e-4)
    assert rows[0].to_dict()["label"] == "L0"


def test_bad_inputs(make_pair: Pair) -> None:
    model, _ = make_pair("gpt2")
    metric = logit_diff(model, " Mary", " John")
    with pytest.raises(loupe.LoupeError, match="same number of tokens"):
        patch_sweep(model, CLEAN, "When Mary went to the store", metric)
    with pytest.raises(loupe.LoupeError, match="same on the clean and corrupt"):
        patch_sweep(model, CLEAN, CLEAN, metric)
    with pytest.raises(loupe.LoupeError, match="'over'"):
        patch_sweep(model, CLEAN, CORRUPT, metric, over="neurons")  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("direction", ["noising", "denoising"])
def test_attribution_patching_is_exact_for_a_linear_path(make_pair: Pair, arch: str, direction: str) -> None:
    """The logit difference is linear in the final norm's output, so the gradient estimate is exact there."""
    model, _ = make_pair(arch)
    metric = logit_diff(model, " Mary", " John")
    n = model.to_tokens(CLEAN).shape[1]
    targets = [Target("ln_final.hook_normalized", position=p) for p in range(n)]
    targets.append(Target("ln_final.hook_normalized"))
    exact = patch_sweep(model, CLEAN, CORRUPT, metric, over=targets, direction=direction)  # type: ignore[arg-type]
    approx = attribution_patching(model, CLEAN, CORRUPT, metric, over=targets, direction=direction)  # type: ignore[arg-type]
    torch.testing.assert_close(approx.metric, exact.metric, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(approx.effect, exact.effect, atol=1e-4, rtol=1e-4)
    assert exact.row_labels[-1] == "ln_final.hook_normalized"


@pytest.mark.parametrize("over", ["heads", "resid", "layers"])
def test_attribution_patching_estimates_the_sweep(make_pair: Pair, over: str) -> None:
    model, _ = make_pair("llama")
    metric = logit_diff(model, " Mary", " John")
    exact = patch_sweep(model, CLEAN, CORRUPT, metric, over=over)  # type: ignore[arg-type]
    approx = attribution_patching(model, CLEAN, CORRUPT, metric, over=over)  # type: ignore[arg-type]
    assert approx.effect.shape == exact.effect.shape and torch.isfinite(approx.effect).all()
    assert -1.0 <= correlation(approx, exact) <= 1.0  # how good the estimate is depends on the model: see docs
    if over == "resid":  # before the changed token (position 9) clean and corrupt residuals are equal
        assert torch.allclose(approx.effect[:, :9], torch.zeros(model.cfg.n_layers, 9), atol=1e-6)
        assert torch.allclose(exact.effect[:, :9], torch.zeros(model.cfg.n_layers, 9), atol=1e-5)
    assert exact.top(1)[0][0].startswith("L")


def test_metrics_without_a_tail_and_hook_cleanup(make_pair: Pair) -> None:
    """A plain function reads full logits; LogitDiff lets the sweep unembed only the last position."""
    model, _ = make_pair("gpt2")
    fast = logit_diff(model, " Mary", " John")
    n = model.to_tokens(CLEAN).shape[1]
    at_index = logit_diff(model, " Mary", " John", position=n - 1)  # same token, counted from the start
    assert fast.tail == 1 and at_index.tail is None

    def plain(logits: torch.Tensor) -> torch.Tensor:
        assert logits.shape[1] == n
        return fast(logits)

    want = patch_sweep(model, CLEAN, CORRUPT, fast, over="layers")
    for metric in (plain, at_index):
        got = patch_sweep(model, CLEAN, CORRUPT, metric, over="layers")
        torch.testing.assert_close(got.metric, want.metric, atol=1e-5, rtol=1e-5)
    assert not model.hf.get_output_embeddings()._forward_pre_hooks
    assert model.run(CLEAN).logits.shape[1] == n


def test_the_shared_prefix_is_computed_once(make_pair: Pair) -> None:
    """The prompts share 9 tokens; with a last-position metric only the 5 after them are run per batch."""
    from loupe.analysis.patching import sweep_setup
    from loupe.analysis.shared_prefix import SharedPrefix

    model, _ = make_pair("llama")
    metric = logit_diff(model, " Mary", " John")
    s = sweep_setup(model, CLEAN, CORRUPT, metric, "heads", "noising")
    assert s.shared == 9 and SharedPrefix(model, s, metric).start == 9
    assert SharedPrefix(model, s, lambda logits: metric(logits)).start == 0  # a plain function sees every position


def test_a_wrapped_model_runs_every_pass_through_run(make_pair: Pair) -> None:
    """A wrapper that adds interventions in `run` (as the server's session model does) is always honoured."""
    from loupe.analysis.patching import sweep_setup
    from loupe.analysis.shared_prefix import SharedPrefix

    model, _ = make_pair("llama")
    ablate = loupe.Ablate(hook="blocks.0.attn.hook_z", head=1)

    class Wrapped:
        def __getattr__(self, name: str) -> Any:
            return getattr(model, name)

        def run(self, inputs: Any, **kw: Any) -> Any:
            return model.run(inputs, interventions=[ablate, *(kw.pop("interventions", None) or [])], **kw)

    metric = logit_diff(model, " Mary", " John")
    wrapped: Any = Wrapped()
    assert SharedPrefix(wrapped, sweep_setup(wrapped, CLEAN, CORRUPT, metric, "heads", "noising"), metric).start == 0
    got = patch_sweep(wrapped, CLEAN, CORRUPT, metric, over="layers")
    want = torch.zeros(model.cfg.n_layers, 2)
    source = model.run(CORRUPT, capture="blocks.*.hook_*_out", interventions=[ablate])
    for layer in range(model.cfg.n_layers):
        for c, part in enumerate(("attn", "mlp")):
            patch = loupe.Patch(hook=f"blocks.{layer}.hook_{part}_out", source=source)
            want[layer, c] = metric(model.run(CLEAN, interventions=[ablate, patch]).logits)[0]
    torch.testing.assert_close(got.metric, want, atol=1e-4, rtol=1e-4)


def test_a_wrapper_that_gives_its_pass_parts_shares_the_prefix(make_pair: Pair) -> None:
    """A wrapper with `pass_parts` (the server's session model) gets the cached prefix, its interventions applied
    in the prefix and in every batch alike; a mean ablation over the run's own positions turns the cache off."""
    from loupe.analysis.patching import sweep_setup
    from loupe.analysis.shared_prefix import SharedPrefix
    from loupe.engine.plan import PassParts

    model, _ = make_pair("llama")
    steer = torch.randn(model.cfg.d_model)
    session: list[Any] = [
        loupe.Ablate(hook="blocks.0.attn.hook_z", head=1),
        loupe.Steer(hook="blocks.0.hook_resid_post", vector=steer, positions=(3, -2), scale=2.0),
    ]

    class Session:
        def __init__(self, ivs: list[Any]) -> None:
            self.ivs = ivs

        def __getattr__(self, name: str) -> Any:
            return getattr(model, name)

        def run(self, inputs: Any, **kw: Any) -> Any:
            return model.run(inputs, interventions=[*self.ivs, *(kw.pop("interventions", None) or [])], **kw)

        def pass_parts(self) -> PassParts:
            return PassParts(model, self.ivs)

    metric = logit_diff(model, " Mary", " John")
    wrapped: Any = Session(session)
    assert SharedPrefix(wrapped, sweep_setup(wrapped, CLEAN, CORRUPT, metric, "heads", "noising"), metric).start == 9
    got = patch_sweep(wrapped, CLEAN, CORRUPT, metric, over="heads", batch_size=5)
    source = model.run(CORRUPT, capture="blocks.*.attn.hook_z", interventions=session)
    want = torch.zeros(model.cfg.n_layers, model.cfg.n_heads)
    for layer in range(model.cfg.n_layers):
        for h in range(model.cfg.n_heads):
            patch = loupe.Patch(hook=f"blocks.{layer}.attn.hook_z", head=h, source=source)
            want[layer, h] = metric(model.run(CLEAN, interventions=[*session, patch]).logits)[0]
    torch.testing.assert_close(got.metric, want, atol=1e-4, rtol=1e-4)

    own_mean: Any = Session([loupe.Ablate(hook="blocks.0.hook_mlp_out", mode="mean")])
    s = sweep_setup(own_mean, CLEAN, CORRUPT, metric, "heads", "noising")
    assert SharedPrefix(own_mean, s, metric).start == 0


def test_attribution_patching_runs_its_backward_where_passes_run(make_pair: Pair, monkeypatch) -> None:
    """On a served model (one with a compute thread) the backward pass runs there too, with its OpenMP team:
    the server's job threads run torch on one core (engine/compute.py)."""
    from loupe.engine.compute import ComputeThread, light_thread

    model, _ = make_pair("llama")
    metric = logit_diff(model, " Mary", " John")
    plain = attribution_patching(model, CLEAN, CORRUPT, metric, over="heads")  # type: ignore[arg-type]
    seen: list[str] = []
    grad = torch.autograd.grad

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return grad(*args, **kwargs)

    monkeypatch.setattr(torch.autograd, "grad", spy)
    out: list[Any] = []

    def job() -> None:  # as a server's job thread runs it
        light_thread()
        out.append(attribution_patching(model, CLEAN, CORRUPT, metric, over="heads"))  # type: ignore[arg-type]

    model.compute = ComputeThread(name="test-backward")
    try:
        t = threading.Thread(target=job)
        t.start()
        t.join()
        served = out[0]
    finally:
        model.compute = None
    assert seen == ["test-backward"]
    torch.testing.assert_close(served.effect, plain.effect)
