"""Head-patching sweep: batched rows (many patches per forward pass) vs one forward pass per patch."""

from __future__ import annotations

import time
from typing import Any

import torch

import loupe
from bench.common import machine
from loupe.analysis import logit_diff, patch_sweep
from loupe.engine.allocator import keep_freed_memory

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPT = "When Mary and John went to the store, Mary gave a drink to"


def one_per_patch(model: loupe.HookedModel, layers: range) -> torch.Tensor:
    """The baseline: what a user would write without the sweep, one `model.run` per (layer, head)."""
    metric = logit_diff(model, " Mary", " John")
    source = model.run(CORRUPT, capture=[f"blocks.{lay}.attn.hook_z" for lay in layers])
    out = torch.zeros(len(layers), model.cfg.n_heads)
    for i, lay in enumerate(layers):
        for h in range(model.cfg.n_heads):
            patch = loupe.Patch(hook=f"blocks.{lay}.attn.hook_z", head=h, source=source)
            out[i, h] = metric(model.run(CLEAN, interventions=[patch]).logits)[0]
    return out


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    """Time the baseline on a slice of layers (all layers unless quick) and the batched sweep on all of them."""
    metric = logit_diff(model, " Mary", " John")
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    base_layers = range(0, n_layers, 6) if quick else range(n_layers)
    model.run(CLEAN)  # warm up
    start = time.perf_counter()
    baseline = one_per_patch(model, base_layers)
    per_patch = (time.perf_counter() - start) / (len(base_layers) * n_heads)
    rows: dict[str, Any] = {}
    for batch_size in (16, 32, 64) if not quick else (32,):
        start = time.perf_counter()
        sweep = patch_sweep(model, CLEAN, CORRUPT, metric, over="heads", batch_size=batch_size)
        seconds = time.perf_counter() - start
        err = float((sweep.metric[list(base_layers)] - baseline).abs().max())
        rows[str(batch_size)] = {"seconds": seconds, "speedup": per_patch * n_layers * n_heads / seconds, "max_err": err}
    return {
        "name": "patch_sweep",
        "target": {"speedup": 5.0},
        "patches": n_layers * n_heads,
        "tokens": int(model.to_tokens(CLEAN).shape[1]),
        "one_per_patch_ms": per_patch * 1e3,
        "one_per_patch_total_s": per_patch * n_layers * n_heads,
        "batched": rows,
        "machine": machine(),
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['patches']} head patches, {result['tokens']} tokens: one forward per patch "
        f"{result['one_per_patch_ms']:.0f} ms each, {result['one_per_patch_total_s']:.1f} s in all",
        "batch  seconds  speedup  max |diff| vs one-per-patch",
    ]
    for b, r in result["batched"].items():
        lines.append(f"{b:>5}  {r['seconds']:7.2f}  {r['speedup']:6.1f}x  {r['max_err']:.1e}")
    return "\n".join(lines)


if __name__ == "__main__":
    keep_freed_memory()
    print(report(run(loupe.load())))
