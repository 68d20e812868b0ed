"""A checkpoint with a model's config and tokenizer but random weights, for timing where the weights cannot go.

python -m loupe.bench.random_checkpoint SRC DST    (SRC: a checkpoint folder, e.g. the embedded model's cache)

Timings depend on shapes, not values, wherever no step depends on the data: on a GPU the logit lens decodes
every row with the float32 product, so the GPU table in the README was measured on such a copy of SmolLM2.
On a CPU the lens's bf16 bound settles fewer rows of random logits, so CPU figures use the real weights.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def random_checkpoint(src: Path, dst: Path, seed: int = 0) -> None:
    """Write to `dst` a model built from `src`'s config with random weights, and copy `src`'s other files."""
    torch.manual_seed(seed)
    hf = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(src), dtype=torch.float32)
    hf.save_pretrained(dst)
    for f in src.iterdir():
        if f.is_file() and f.name != "config.json" and not f.name.endswith(".safetensors"):
            shutil.copy(f, dst / f.name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    args = parser.parse_args()
    random_checkpoint(args.src, args.dst)


if __name__ == "__main__":
    main()
