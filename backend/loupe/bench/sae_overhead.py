"""The cost of features in a run: the same run with one SAE attached (every token encoded at its hook) and with a
feature edit, against the run without, at T = 16, 64, 256. One process, interleaved, ratios to the plain run;
`encode_only` times the SAE's encode + top-k of the hook's activation alone (what attaching adds), which a busy
machine's noise blurs less than the difference of two whole runs.

The SAE is the one shipped for the embedded model when installed, else a random TopK SAE of the same shape
(d_sae 8192, k 32 at blocks.10.hook_resid_post): the cost depends on the shapes, not on the weights.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

import loupe
from loupe.bench.common import interleaved, tokens_of_length
from loupe.engine.allocator import keep_freed_memory
from loupe.features.attach import SHIPPED, SHIPPED_ID
from loupe.features.config import SAEConfig
from loupe.features.sae import SAE


def bench_sae(model: loupe.HookedModel) -> SAE:
    if (SHIPPED / "cfg.json").is_file():
        return SAE.load(SHIPPED, SHIPPED_ID)
    d, n = model.cfg.d_model, 8192
    gen = torch.Generator().manual_seed(0)
    weights = {
        "W_enc": torch.randn(d, n, generator=gen) / d**0.5,
        "W_dec": torch.randn(n, d, generator=gen) / d**0.5,
        "b_enc": torch.zeros(n),
        "b_dec": torch.zeros(d),
    }
    hook = f"blocks.{model.cfg.n_layers // 3}.hook_resid_post"
    return SAE(SAEConfig("topk", d, n, hook, k=32), weights, "random")


def _encode_top(sae: SAE, x: torch.Tensor) -> object:
    return sae.encode(x).topk(16, dim=-1)


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    sae = bench_sae(model).to(model.device)
    edit = loupe.Feature(sae=sae, index=0, mode="set", value=4.0, positions=(-1,))
    rows = []
    for n in (64,) if quick else (16, 64, 256):
        tokens = tokens_of_length(model, n)
        fns: dict[str, Callable[[], object]] = {
            "loupe_run": partial(model.run, tokens),
            "features": partial(model.run, tokens, features=[sae]),
            "features_and_edit": partial(model.run, tokens, features=[sae], interventions=[edit]),
        }
        x = model.run(tokens, capture=[sae.hook]).cache[sae.hook]
        fns["encode_only"] = partial(_encode_top, sae, x)  # what attaching adds to the run
        seconds = interleaved(fns, repeats=7 if quick else 15)
        base = seconds["loupe_run"]
        rows.append({"tokens": n, "seconds": seconds, "ratio": {k: v / base for k, v in seconds.items()}})
    return {
        "name": "sae_overhead",
        "sae": repr(sae),
        "target": {"features": 1.10},
        "rows": rows,
    }


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['sae']}",
        "tokens  run ms  features  features+edit  encode alone   (ratio to the same run without the SAE)",
    ]
    for r in result["rows"]:
        ratio = r["ratio"]
        lines.append(
            f"{r['tokens']:>6}  {r['seconds']['loupe_run'] * 1e3:6.1f}  {ratio['features']:7.3f}x  "
            f"{ratio['features_and_edit']:12.3f}x  {ratio['encode_only']:11.3f}x"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    keep_freed_memory()
    print(report(run(loupe.load())))
