"""`loupe.bench.random_checkpoint`: the same config, tokenizer and shapes, other weights, loadable by `loupe.load`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import loupe
from loupe.bench.random_checkpoint import random_checkpoint
from tests.conftest import build_hf


def test_random_copy_keeps_shapes_and_tokenizer(tmp_path: Path, tokenizer: Any) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    build_hf("llama").save_pretrained(src)
    tokenizer.save_pretrained(src)
    random_checkpoint(src, dst, seed=1)
    real, copy = loupe.load(str(src)), loupe.load(str(dst))
    assert (dst / "tokenizer.json").is_file() and copy.cfg.n_layers == real.cfg.n_layers
    a, b = real.hf.state_dict(), copy.hf.state_dict()
    assert a.keys() == b.keys() and all(a[k].shape == b[k].shape for k in a)
    assert not torch.equal(a["model.layers.0.mlp.up_proj.weight"], b["model.layers.0.mlp.up_proj.weight"])
    assert copy.to_str_tokens("When Mary and John") == real.to_str_tokens("When Mary and John")
    assert copy.run("When Mary and John").logits.shape == real.run("When Mary and John").logits.shape
