"""SAEs with random weights, built in code, for tests that need one before a trained SAE exists."""

from __future__ import annotations

import torch

from loupe.features.config import SAEConfig
from loupe.features.sae import SAE


def random_sae(
    arch: str = "topk",
    d_in: int = 32,
    d_sae: int = 96,
    hook: str = "blocks.1.hook_resid_post",
    k: int | None = 8,
    seed: int = 0,
    id: str = "rand",
    scale: float = 0.3,
) -> SAE:
    """An SAE whose every weight is Gaussian noise (`scale`); jumprelu thresholds uniform in [0, scale)."""
    gen = torch.Generator().manual_seed(seed)
    weights = {
        "W_enc": torch.randn(d_in, d_sae, generator=gen) * scale,
        "W_dec": torch.randn(d_sae, d_in, generator=gen) * scale,
        "b_enc": torch.randn(d_sae, generator=gen) * scale,
        "b_dec": torch.randn(d_in, generator=gen) * scale,
    }
    if arch == "jumprelu":
        weights["threshold"] = torch.rand(d_sae, generator=gen) * scale
    cfg = SAEConfig(arch, d_in, d_sae, hook, k=k if arch == "topk" else None, model_name="tiny")
    return SAE(cfg, weights, id)
