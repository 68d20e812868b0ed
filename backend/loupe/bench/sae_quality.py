"""The shipped SAE's quality on the corpus's held-out split (`make corpus` builds it): explained variance, L0,
dead fraction over the held-out tokens and CE-loss recovered (clean = 1, zero-ablated = 0) on part of them.
Targets: CE-loss recovered >= 0.90, explained variance >= 0.80, dead <= 5 %."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import loupe
from loupe.bench.common import CHECKOUT
from loupe.features.activations import token_rows
from loupe.features.attach import SHIPPED, SHIPPED_ID
from loupe.features.corpus import read_texts
from loupe.features.metrics import ce_recovered, reconstruction_stats
from loupe.features.sae import SAE

HELDOUT = Path(os.environ.get("LOUPE_CORPUS", CHECKOUT / "data" / "corpus")) / "heldout"
SEQ_LEN = 128


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    if not (SHIPPED / "cfg.json").is_file() or not HELDOUT.is_dir():
        return {"skipped": f"needs the shipped SAE and the held-out corpus at {HELDOUT} (make corpus)"}
    sae = SAE.load(SHIPPED, SHIPPED_ID)
    n_recon, n_ce = (32, 16) if quick else (256, 64)
    rows = token_rows(model, read_texts(HELDOUT), SEQ_LEN, n_recon, seed=0)
    return {
        "sae": SHIPPED_ID,
        "hook": sae.hook,
        "d_sae": sae.d_sae,
        "k": sae.cfg.k,
        "corpus": "held-out split",
        **reconstruction_stats(model, sae, rows),
        "ce": ce_recovered(model, sae, rows[:n_ce]),
    }


def report(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    ce = result["ce"]
    return (
        f"{result['sae']} at {result['hook']} (d_sae {result['d_sae']}, k {result['k']}), {result['tokens']} held-out "
        f"tokens: explained variance {result['explained_variance']:.3f}, L0 {result['l0']:.1f}, dead "
        f"{result['dead_fraction']:.1%}; CE-loss recovered {ce['ce_loss_recovered']:.3f} over {ce['tokens']} tokens "
        f"(clean {ce['ce_clean']:.3f}, spliced {ce['ce_spliced']:.3f}, zero-ablated {ce['ce_zero_ablated']:.3f})"
    )
