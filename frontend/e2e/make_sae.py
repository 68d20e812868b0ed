"""Build the SAE the e2e suite serves, unless OUT already holds it, and OUT-bare: the same SAE without its
dashboard (the UI's case of an SAE that has none).

    ../.venv/bin/python e2e/make_sae.py OUT

A top-k SAE with random unit directions (tied encoder/decoder, centred on the corpus mean) at
blocks.10.hook_resid_post of the embedded model, saved in SAELens's
format with a dashboard computed over Python's own documentation (pydoc_data, shipped with every Python),
so the UI is tested against a real server, real runs and real dashboards without a trained SAE.
"""

from __future__ import annotations

import pydoc_data.topics
import shutil
import sys
import time
from pathlib import Path

import torch

import loupe
from loupe.features.config import SAEConfig
from loupe.features.dashboard import compute_dashboard
from loupe.features.sae import SAE

HOOK = "blocks.10.hook_resid_post"
D_SAE, K, ROWS, T = 1024, 32, 96, 32


def corpus(model: loupe.HookedModel) -> torch.Tensor:
    """[ROWS, T] token ids cut from the pydoc topics, in a fixed order."""
    text = "\n\n".join(v for _, v in sorted(pydoc_data.topics.topics.items()))[:400_000]
    ids = model.tokenizer(text)["input_ids"][: ROWS * T]
    return torch.tensor(ids, dtype=torch.long).reshape(ROWS, T)


def main(out: Path) -> None:
    if not ((out / "cfg.json").is_file() and (out / "dashboard.json").is_file()):
        build(out)
    bare = out.with_name(out.name + "-bare")
    bare.mkdir(exist_ok=True)
    for name in ("cfg.json", "sae_weights.safetensors"):
        shutil.copyfile(out / name, bare / name)


def build(out: Path) -> None:
    t0 = time.perf_counter()
    model = loupe.load()
    gen = torch.Generator().manual_seed(0)
    d_in = model.cfg.d_model
    w_dec = torch.randn(D_SAE, d_in, generator=gen)
    w_dec = w_dec / w_dec.norm(dim=-1, keepdim=True)
    tokens = corpus(model)
    # Centre the input on the corpus mean, so features share the tokens instead of a few firing everywhere.
    with torch.no_grad():
        mean = model.run(tokens[:16], capture=[HOOK]).cache[HOOK][:, 1:].float().mean((0, 1)).cpu()
    weights = {"W_enc": w_dec.T.clone(), "W_dec": w_dec, "b_enc": torch.zeros(D_SAE), "b_dec": mean}
    sae = SAE(SAEConfig("topk", d_in, D_SAE, HOOK, k=K, model_name=model.cfg.name), weights, "e2e")
    model.add_sae(sae)
    sae.save(out)
    compute_dashboard(model, sae, tokens).save(out)
    print(f"e2e SAE written to {out} in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
