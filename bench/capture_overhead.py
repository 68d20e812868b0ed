"""Capture overhead: plain Hugging Face forward vs Loupe capturing nothing, attention patterns, everything."""

from __future__ import annotations

import copy
from typing import Any

import torch

import loupe
from bench.common import interleaved, tokens_of_length
from loupe.engine.allocator import keep_freed_memory


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    plain_hf = copy.deepcopy(model.hf)
    plain_hf.set_attn_implementation("sdpa")  # what a user of transformers gets by default
    rows = []
    for n in (16, 64, 256):
        tokens = tokens_of_length(model, n)

        def plain(tokens: torch.Tensor = tokens) -> object:
            with torch.no_grad():
                return plain_hf(input_ids=tokens).logits

        fns = {
            "hf_forward": plain,
            "loupe_none": lambda tokens=tokens: model.run(tokens),
            "loupe_patterns": lambda tokens=tokens: model.run(tokens, capture="blocks.*.attn.hook_pattern"),
            "loupe_all": lambda tokens=tokens: model.run(tokens, capture="*"),
        }
        seconds = interleaved(fns, repeats=5 if quick else 15)
        base = seconds["hf_forward"]
        rows.append({"tokens": n, "seconds": seconds, "ratio": {k: v / base for k, v in seconds.items()}})
    return {"name": "capture_overhead", "target": {"loupe_all": 1.05}, "rows": rows}


def report(result: dict[str, Any]) -> str:
    lines = ["tokens  hf_forward  loupe_none  loupe_patterns  loupe_all   (ratio to the plain HF forward)"]
    for r in result["rows"]:
        q = r["ratio"]
        lines.append(
            f"{r['tokens']:>6}  {r['seconds']['hf_forward'] * 1e3:7.1f} ms  {q['loupe_none']:9.3f}  "
            f"{q['loupe_patterns']:14.3f}  {q['loupe_all']:9.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    keep_freed_memory()
    print(report(run(loupe.load())))
