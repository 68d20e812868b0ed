"""Head-patching sweep: batched rows (many patches per forward pass) vs one forward pass per patch, on the
bare model and from a server session (`analyze {kind: "patch"}` over a loopback socket, batch 32; the server is
`loupe serve` in a child process, as deployed: `child_server` says why).

Run: .venv/bin/python -m loupe.bench.patch_sweep   (a few minutes on 2 CPU cores)
The baseline is timed on a few layers per round (its cost per patch does not depend on the layer) and
interleaved with full batched sweeps, so load from other processes hits both alike; CPU time (of this
process, all threads) is reported too for the bare model, as it is less disturbed by other processes than wall
time (the session's CPU time is the child's, not measured).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch

import loupe
from loupe.analysis import Target, logit_diff, patch_sweep
from loupe.bench.child_server import child_server
from loupe.bench.common import machine, sync
from loupe.client import SyncClient

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
    """Alternate rounds of the baseline (on a few layers, timed per patch) and full batched sweeps."""
    metric = logit_diff(model, " Mary", " John")
    n_layers, n_heads = model.cfg.n_layers, model.cfg.n_heads
    batch_sizes = (32,) if quick else (16, 32, 64)
    per_patch: dict[str, list[float]] = {"wall": [], "cpu": []}
    sweeps: dict[str, dict[int, list[float]]] = {k: {b: [] for b in batch_sizes} for k in ("wall", "cpu")}
    session: list[float] = []
    max_err = 0.0
    model.run(CLEAN)  # warm up
    with child_server(model) as url, SyncClient(url, timeout=600) as client:
        fields: dict[str, Any] = {"prompt": CLEAN, "corrupt": CORRUPT, "answer": " Mary", "wrong": " John"}
        fields.update(batch_size=32, dtype="f32")
        client.analyze("patch", **fields)  # warm up
        for r in range(1 if quick else 3):
            layers = range(r * 10, r * 10 + (2 if quick else 4))
            start, cpu = time.perf_counter(), time.process_time()
            baseline = one_per_patch(model, layers)
            per_patch["wall"].append((time.perf_counter() - start) / (len(layers) * n_heads))
            per_patch["cpu"].append((time.process_time() - cpu) / (len(layers) * n_heads))
            for b in batch_sizes:
                start, cpu = time.perf_counter(), time.process_time()
                sweep = patch_sweep(model, CLEAN, CORRUPT, metric, over="heads", batch_size=b)
                sync()
                sweeps["wall"][b].append(time.perf_counter() - start)
                sweeps["cpu"][b].append(time.process_time() - cpu)
                max_err = max(max_err, float((sweep.metric[list(layers)] - baseline).abs().max()))
            start = time.perf_counter()
            res = client.analyze("patch", **fields)
            session.append(time.perf_counter() - start)
            got = torch.tensor(res["metric"])[list(layers)]
            max_err = max(max_err, float((got - baseline).abs().max()))
    base_total = statistics.median(per_patch["wall"]) * n_layers * n_heads
    base_cpu = statistics.median(per_patch["cpu"]) * n_layers * n_heads
    rows = {
        str(b): {
            "seconds": statistics.median(sweeps["wall"][b]),
            "speedup": base_total / statistics.median(sweeps["wall"][b]),
            "cpu_seconds": statistics.median(sweeps["cpu"][b]),
            "cpu_speedup": base_cpu / statistics.median(sweeps["cpu"][b]),
        }
        for b in batch_sizes
    }
    in_session = {
        "batch": 32,
        "seconds": statistics.median(session),
        "speedup": base_total / statistics.median(session),
    }
    return {
        "name": "patch_sweep",
        "session": in_session,
        "scaling": _scaling(model, metric),
        "target": {"speedup": 5.0},
        "patches": n_layers * n_heads,
        "tokens": int(model.to_tokens(CLEAN).shape[1]),
        "one_per_patch_ms": statistics.median(per_patch["wall"]) * 1e3,
        "one_per_patch_total_s": base_total,
        "one_per_patch_total_cpu_s": base_cpu,
        "max_err": max_err,
        "batched": rows,
        "machine": machine(),
    }


def _scaling(model: loupe.HookedModel, metric: Any) -> list[dict[str, float]]:
    """Sweep time against the number of head patches (the heads of the first k layers), batch 32."""
    out = []
    for k in (model.cfg.n_layers // 5, model.cfg.n_layers // 2, model.cfg.n_layers):
        targets = [Target(f"blocks.{lay}.attn.hook_z", head=h) for lay in range(k) for h in range(model.cfg.n_heads)]
        start = time.perf_counter()
        patch_sweep(model, CLEAN, CORRUPT, metric, over=targets)
        sync()
        seconds = time.perf_counter() - start
        out.append({"patches": len(targets), "seconds": seconds, "ms_per_patch": 1e3 * seconds / len(targets)})
    return out


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['patches']} head patches, {result['tokens']} tokens: one forward per patch "
        f"{result['one_per_patch_ms']:.0f} ms each, {result['one_per_patch_total_s']:.1f} s in all "
        f"({result['one_per_patch_total_cpu_s']:.1f} s of CPU time)",
        f"batched sweeps (max |difference| from one run per patch: {result['max_err']:.1e}):",
        "batch  seconds  speedup  CPU seconds  CPU-time speedup",
    ]
    for b, r in result["batched"].items():
        lines.append(
            f"{b:>5}  {r['seconds']:7.2f}  {r['speedup']:6.1f}x  {r['cpu_seconds']:11.2f}  {r['cpu_speedup']:15.1f}x"
        )
    ses = result["session"]
    lines.append(
        f"from a server session (analyze patch, batch {ses['batch']}): {ses['seconds']:.2f} s, {ses['speedup']:.1f}x"
    )
    lines.append(
        "sweep time vs number of head patches (batch 32): "
        + ", ".join(
            f"{r['patches']} -> {r['seconds']:.2f} s ({r['ms_per_patch']:.1f} ms each)" for r in result["scaling"]
        )
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(loupe.load())))
