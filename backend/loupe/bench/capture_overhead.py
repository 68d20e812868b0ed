"""Capture overhead, side by side: the plain Hugging Face forward, Loupe capturing nothing, all attention
patterns, every layer's residual stream and every hook point, and (where installed) TransformerLens's
run_with_cache and nnsight's residual saves. One process, interleaved, ratios to the plain forward.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

import loupe
from loupe.bench.common import interleaved, plain_hf, tokens_of_length
from loupe.bench.tools import other_tools


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    hf = plain_hf(model)
    tools = other_tools(model)
    rows = []
    for n in (16, 64, 256):
        tokens = tokens_of_length(model, n)

        def plain(tokens: torch.Tensor = tokens) -> object:
            with torch.no_grad():
                return hf(input_ids=tokens).logits

        fns: dict[str, Callable[[], object]] = {
            "hf_forward": plain,
            "loupe_none": partial(model.run, tokens),
            "loupe_patterns": partial(model.run, tokens, capture="blocks.*.attn.hook_pattern"),
            "loupe_resid": partial(model.run, tokens, capture="blocks.*.hook_resid_post"),
            "loupe_all": partial(model.run, tokens, capture="*"),
        }
        for name, tool in tools.items():
            fns[name] = partial(tool, tokens)
        seconds = interleaved(fns, repeats=5 if quick else 15)
        base = seconds["hf_forward"]
        rows.append({"tokens": n, "seconds": seconds, "ratio": {k: v / base for k, v in seconds.items()}})
    return {"name": "capture_overhead", "target": {"loupe_all": 1.05}, "rows": rows, "tools": sorted(tools)}


def report(result: dict[str, Any]) -> str:
    names = list(result["rows"][0]["ratio"])
    lines = ["tokens  HF ms  " + "  ".join(f"{n:>20}" for n in names[1:]) + "   (ratio to the plain HF forward)"]
    for r in result["rows"]:
        cells = "  ".join(f"{r['ratio'][n]:>19.3f}x" for n in names[1:])
        lines.append(f"{r['tokens']:>6}  {r['seconds']['hf_forward'] * 1e3:5.0f}  {cells}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run(loupe.load())))
