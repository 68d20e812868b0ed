"""Shared helpers for the benchmarks: interleaved timing, prompts of a given length, machine facts, and where
the source checkout and the results are."""

from __future__ import annotations

import copy
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import loupe

# The source checkout this package runs from (backend/loupe/bench/ in it), if it does: the browser benchmarks
# need its frontend/, sae_quality its data/corpus/. An installed package has none and those entries skip.
CHECKOUT = Path(__file__).resolve().parents[3]
# Results: the checkout's bench/results/ when there is one, else bench-results/ in the current directory.
RESULTS = CHECKOUT / "bench" / "results" if (CHECKOUT / "bench" / "results").is_dir() else Path("bench-results")


def machine() -> dict[str, Any]:
    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        **({"gpu": torch.cuda.get_device_name()} if torch.cuda.is_available() and torch.cuda.is_initialized() else {}),
    }


def plain_hf(model: loupe.HookedModel) -> Any:
    """An independent copy of the model's weights with transformers' default (SDPA) attention, no hooks."""
    hf = copy.deepcopy(model.hf)
    hf.set_attn_implementation("sdpa")
    return hf


def tokens_of_length(model: loupe.HookedModel, n: int) -> torch.Tensor:
    """A [1, n] token tensor cut from repeated natural text (so attention is not degenerate)."""
    text = "When Mary and John went to the store, John gave a drink to Mary. " * (n // 8 + 2)
    return model.to_tokens(text)[:, :n]


def sync() -> None:
    """Wait for queued GPU work, so a host clock read after it times the work, not its launch (no-op on CPU)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def interleaved(fns: dict[str, Callable[[], object]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin so machine noise hits all alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}
