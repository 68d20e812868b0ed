"""Loading from a local directory, wrapping a built model, options and unsupported architectures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, OPTConfig

import loupe
from tests.conftest import build_hf


@pytest.mark.parametrize("arch", ["gpt2", "llama", "neox"])
def test_load_local_directory(tmp_path: Path, tokenizer: Any, arch: str) -> None:
    hf = build_hf(arch)
    hf.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model = loupe.load(str(tmp_path))
    assert model.cfg.name == tmp_path.name and model.cfg.n_layers == 2 and model.cfg.d_model == 32
    with torch.no_grad():
        expected = hf(input_ids=model.to_tokens("hello world")).logits
    torch.testing.assert_close(model.run("hello world").logits, expected, atol=1e-5, rtol=1e-5)
    assert model.to_str_tokens("hello world") == ["hello", " world"]


def test_load_options_and_config(tokenizer: Any) -> None:
    model = loupe.load(build_hf("llama"), tokenizer=tokenizer, dtype="bfloat16")
    assert next(model.hf.parameters()).dtype == torch.bfloat16
    assert model.run("hello").logits.dtype == torch.float32
    cfg = model.cfg.to_dict()
    assert {k: cfg[k] for k in ("n_heads", "n_kv_heads", "d_head", "d_mlp", "arch")} == {
        "n_heads": 4,
        "n_kv_heads": 2,
        "d_head": 8,
        "d_mlp": 48,
        "arch": "llama",
    }
    with pytest.raises(loupe.LoupeError, match="dtype must be one of"):
        loupe.load(build_hf("llama"), dtype="float8")


def test_unsupported_architecture_names_the_supported_ones(tmp_path: Path) -> None:
    opt = AutoModelForCausalLM.from_config(
        OPTConfig(hidden_size=16, num_hidden_layers=1, ffn_dim=32, num_attention_heads=2, vocab_size=100)
    )
    opt.save_pretrained(tmp_path)
    with pytest.raises(loupe.LoupeError, match="'opt' is not supported; supported: gpt2, gpt_neox, llama"):
        loupe.load(str(tmp_path))
    with pytest.raises(loupe.LoupeError, match="not supported"):
        loupe.load(opt)


def test_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(loupe.LoupeError, match="cannot load model") as info:
        loupe.load(str(tmp_path / "nothing-here"))
    assert info.value.code == "model_unavailable"


def test_hook_point_globbing(make_pair) -> None:
    model, _ = make_pair("gpt2")
    assert model.match_hooks("blocks.*.attn.hook_pattern") == [
        "blocks.0.attn.hook_pattern",
        "blocks.1.attn.hook_pattern",
    ]
    assert "hook_pos_embed" in model.hook_points and "blocks.0.attn.hook_rot_q" not in model.hook_points
    neox, _ = make_pair("neox")
    assert "blocks.0.hook_resid_mid" not in neox.hook_points  # parallel attention + MLP
    assert model.hook_points[0] == "hook_embed" and model.hook_points[-1] == "logits"
