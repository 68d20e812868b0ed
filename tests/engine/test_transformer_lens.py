"""TransformerLens 4.x's TransformerBridge as an oracle: every shared hook point must agree.

Skipped when the optional `compare` extra (transformer-lens) is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import loupe
from loupe.engine.loading import embedded_checkpoint
from tests.conftest import build_hf

bridge = pytest.importorskip("transformer_lens.model_bridge")

PROMPT = "When Mary and John went to the store, John gave a drink to"


def tl_name(name: str) -> str:
    """Loupe's `ln*.hook_normalized` is the norm's output (after its gain), which the bridge calls `hook_out`."""
    return name.replace("hook_normalized", "hook_out")


def compare(model: loupe.HookedModel, path: str, tokenizer: Any) -> int:
    tl = bridge.TransformerBridge.boot_transformers(path, tokenizer=tokenizer, device="cpu")
    tokens = model.to_tokens(PROMPT)
    with torch.no_grad():
        logits, cache = tl.run_with_cache(tokens)
    ours = model.run(tokens, capture="*")
    torch.testing.assert_close(ours.logits, logits.float(), atol=1e-4, rtol=1e-4)
    checked = 0
    for name in model.hook_points:
        if tl_name(name) not in cache or name == "logits":
            continue
        torch.testing.assert_close(ours.cache[name], cache[tl_name(name)], atol=1e-4, rtol=1e-4, msg=name)
        checked += 1
    return checked


def test_embedded_model_agrees_with_transformer_bridge(smol: loupe.HookedModel) -> None:
    checked = compare(smol, embedded_checkpoint(), smol.tokenizer)
    assert checked >= 15 * smol.cfg.n_layers  # every block point, rotary ones included


def test_tiny_gpt2_agrees_with_transformer_bridge(tmp_path: Path, tokenizer: Any) -> None:
    hf = build_hf("gpt2")
    hf.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model = loupe.load(str(tmp_path))
    assert compare(model, str(tmp_path), tokenizer) >= 10 * model.cfg.n_layers
