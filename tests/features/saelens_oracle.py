"""sae-lens as an oracle, run in a subprocess whose path puts sae-lens and its transformer-lens 3.x first.

sae-lens 6.x pins transformer-lens < 4 while Loupe's TransformerLens oracle is 4.x, so the two cannot share
one environment: `make venv` installs sae-lens (no deps) into .venv/sae-lens-oracle and the tests run this
script with that folder on PYTHONPATH.

  saelens_oracle.py JOBS.json, a list of jobs:
  {"mode": "save", "arch", "folder", "io"}: build a random sae-lens SAE of arch, save it to folder
  {"mode": "load", "folder", "io"}: load folder with sae-lens
and each writes the SAE's encode and decode of io.npz's x back into io.npz (as acts and recon).
"""

from __future__ import annotations

import json
import sys

import numpy as np
import torch
from sae_lens import JumpReLUSAE, JumpReLUSAEConfig, StandardSAE, StandardSAEConfig, TopKSAE, TopKSAEConfig
from sae_lens.saes.sae import SAE, SAEMetadata

HOOK = "blocks.1.hook_resid_post"


def build(arch: str, d_in: int, d_sae: int) -> SAE:  # type: ignore[type-arg]
    torch.manual_seed(1)
    meta = SAEMetadata(hook_name=HOOK, model_name="tiny-llama")
    if arch == "standard":
        sae: SAE = StandardSAE(StandardSAEConfig(d_in=d_in, d_sae=d_sae, metadata=meta))  # type: ignore[type-arg]
    elif arch == "topk":
        sae = TopKSAE(TopKSAEConfig(d_in=d_in, d_sae=d_sae, k=5, metadata=meta))
    else:
        sae = JumpReLUSAE(JumpReLUSAEConfig(d_in=d_in, d_sae=d_sae, metadata=meta))
    with torch.no_grad():
        for p in sae.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        if arch == "jumprelu":
            sae.threshold.copy_(torch.rand_like(sae.threshold) * 0.3)
    return sae


def job(mode: str, folder: str, io: str, arch: str = "") -> None:
    data = dict(np.load(io))
    if mode == "save":
        sae = build(arch, int(data["x"].shape[-1]), int(data["d_sae"]))
        sae.save_model(folder)
    else:
        sae = SAE.load_from_disk(folder)
    with torch.no_grad():
        acts = sae.encode(torch.from_numpy(data["x"]))
        data["acts"] = acts.numpy()
        data["recon"] = sae.decode(acts).numpy()
    np.savez(io, **data)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        for spec in json.load(f):
            job(**spec)
