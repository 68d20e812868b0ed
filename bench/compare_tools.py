"""Loupe side by side with TransformerLens (TransformerBridge.run_with_cache) and nnsight (residual saves).

Each tool holds its own copy of the same weights; all runs are interleaved in one process, and each time is
reported as a ratio to the plain Hugging Face forward. Tools that are not installed are left out.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import torch

import loupe
from bench.common import interleaved, tokens_of_length
from loupe.engine.allocator import keep_freed_memory
from loupe.models.loading import embedded_checkpoint


def _transformer_lens(model: loupe.HookedModel) -> Callable[[torch.Tensor], object] | None:
    try:
        from transformer_lens.model_bridge import TransformerBridge
    except ImportError:
        return None
    bridge = TransformerBridge.boot_transformers(embedded_checkpoint(), tokenizer=model.tokenizer, device="cpu")

    def run(tokens: torch.Tensor) -> object:
        with torch.no_grad():
            return bridge.run_with_cache(tokens)

    return run


def _nnsight(model: loupe.HookedModel) -> Callable[[torch.Tensor], object] | None:
    try:
        from nnsight import LanguageModel
    except ImportError:
        return None
    hf = copy.deepcopy(model.hf)
    hf.set_attn_implementation("sdpa")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = LanguageModel(hf, tokenizer=model.tokenizer)

    def run(tokens: torch.Tensor) -> object:
        saved = []
        with torch.no_grad(), lm.trace(tokens):
            for layer in lm.model.layers:
                saved.append(layer.output.save())
        return saved

    return run


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    plain_hf = copy.deepcopy(model.hf)
    plain_hf.set_attn_implementation("sdpa")
    tools = {"transformer_lens_all": _transformer_lens(model), "nnsight_resid": _nnsight(model)}
    rows = []
    for n in (16, 64, 256):
        tokens = tokens_of_length(model, n)

        def plain(tokens: torch.Tensor = tokens) -> object:
            with torch.no_grad():
                return plain_hf(input_ids=tokens).logits

        fns: dict[str, Callable[[], object]] = {
            "hf_forward": plain,
            "loupe_resid": lambda tokens=tokens: model.run(tokens, capture="blocks.*.hook_resid_post"),
            "loupe_all": lambda tokens=tokens: model.run(tokens, capture="*"),
        }
        for name, tool in tools.items():
            if tool is not None:
                fns[name] = lambda tool=tool, tokens=tokens: tool(tokens)
        seconds = interleaved(fns, repeats=3 if quick else 9)
        base = seconds["hf_forward"]
        rows.append({"tokens": n, "seconds": seconds, "ratio": {k: v / base for k, v in seconds.items()}})
    missing = [k for k, v in tools.items() if v is None]
    return {"name": "compare_tools", "rows": rows, "missing": missing}


def report(result: dict[str, Any]) -> str:
    names = list(result["rows"][0]["ratio"])
    lines = ["tokens  " + "  ".join(f"{n:>20}" for n in names)]
    for r in result["rows"]:
        lines.append(f"{r['tokens']:>6}  " + "  ".join(f"{r['ratio'][n]:>19.3f}x" for n in names))
    return "\n".join(lines)


if __name__ == "__main__":
    keep_freed_memory()
    print(report(run(loupe.load(), quick=True)))
