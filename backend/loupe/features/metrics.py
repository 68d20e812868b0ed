"""SAE quality as SAELens and SAEBench report it: explained variance, L0, dead fraction, CE-loss recovered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from loupe.engine.model import HookedModel
from loupe.features.dashboard import hook_activation
from loupe.features.sae import SAE
from loupe.hooks.interventions import Ablate, Patch

Progress = Callable[[int, int], None]


def reconstruction_stats(
    model: HookedModel, sae: SAE, rows: torch.Tensor, batch: int = 8, progress: Progress | None = None
) -> dict[str, Any]:
    """Explained variance (1 - FVU, pooled over all tokens), mean L0 and the fraction of latents that never fire,
    over token rows [N, T]."""
    err = tot = l0 = 0.0
    n = 0
    s1 = torch.zeros(sae.cfg.d_in, dtype=torch.float64)
    s2 = torch.zeros((), dtype=torch.float64)
    fired = torch.zeros(sae.d_sae, dtype=torch.bool)
    for start in range(0, len(rows), batch):
        with torch.no_grad():
            x = hook_activation(model, rows[start : start + batch], sae.hook).flatten(0, 1).float()
            acts = sae.encode(x)
            err += float((x - sae.decode(acts)).pow(2).sum())
        s1 += x.double().sum(0)
        s2 += x.double().pow(2).sum()
        n += len(x)
        l0 += float((acts > 0).sum())
        fired |= (acts > 0).any(0).cpu()
        if progress is not None:
            progress(min(start + batch, len(rows)), len(rows))
    tot = float(s2 - s1.pow(2).sum() / n)  # sum of squared deviations from the mean
    return {
        "tokens": n,
        "explained_variance": 1 - err / tot,
        "l0": l0 / n,
        "dead_fraction": float((~fired).float().mean()),
    }


def ce_recovered(
    model: HookedModel, sae: SAE, rows: torch.Tensor, batch: int = 8, progress: Progress | None = None
) -> dict[str, Any]:
    """Next-token loss of the clean model, with the SAE's reconstruction spliced in at its hook (for every
    token), and with that activation zero-ablated; recovered = (zero - spliced) / (zero - clean)."""
    sums = {"clean": 0.0, "spliced": 0.0, "zero": 0.0}
    n = 0
    for start in range(0, len(rows), batch):
        tokens = rows[start : start + batch]
        with torch.no_grad():
            x = hook_activation(model, tokens, sae.hook)
            recon = sae.decode(sae.encode(x)).to(x.dtype)
            runs = {
                "clean": model.run(tokens),
                "spliced": model.run(tokens, interventions=[Patch(hook=sae.hook, source=recon)]),
                "zero": model.run(tokens, interventions=[Ablate(hook=sae.hook, mode="zero")]),
            }
        for name, res in runs.items():
            logp = res.logits[:, :-1].float().log_softmax(-1)
            sums[name] += float(-logp.gather(-1, tokens[:, 1:, None].to(logp.device)).sum())
        n += tokens[:, 1:].numel()
        if progress is not None:
            progress(min(start + batch, len(rows)), len(rows))
    loss = {k: v / n for k, v in sums.items()}
    return {
        "tokens": n,
        "ce_clean": loss["clean"],
        "ce_spliced": loss["spliced"],
        "ce_zero_ablated": loss["zero"],
        "ce_loss_recovered": (loss["zero"] - loss["spliced"]) / (loss["zero"] - loss["clean"]),
    }
