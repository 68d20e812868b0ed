"""SAE quality metrics on SAEs whose answers are known: an exact one (x = relu(x) - relu(-x)) and a null one."""

from __future__ import annotations

import pytest
import torch

import loupe
from loupe.features.config import SAEConfig
from loupe.features.metrics import ce_recovered, reconstruction_stats
from loupe.features.sae import SAE
from tests.conftest import build_hf

HOOK = "blocks.0.hook_resid_post"


def split_sae(d: int, scale: float) -> SAE:
    """Latents relu(x_i) and relu(-x_i), decoded back with weight `scale` (1: exact, 0: reconstructs 0)."""
    eye = torch.eye(d)
    weights = {
        "W_enc": torch.cat([eye, -eye], 1),
        "W_dec": scale * torch.cat([eye, -eye], 0),
        "b_enc": torch.zeros(2 * d),
        "b_dec": torch.zeros(d),
    }
    return SAE(SAEConfig("topk", d, 2 * d, HOOK, k=d), weights, "split")


@pytest.fixture(scope="module")
def model(tokenizer: object) -> loupe.HookedModel:
    return loupe.load(build_hf("llama"), tokenizer=tokenizer)


def test_exact_sae_explains_everything_and_recovers_all_loss(model: loupe.HookedModel) -> None:
    rows = torch.randint(0, 2000, (5, 16))
    sae = split_sae(model.cfg.d_model, 1.0)
    stats = reconstruction_stats(model, sae, rows, batch=2)
    assert stats["tokens"] == 80
    assert stats["explained_variance"] == pytest.approx(1.0, abs=1e-5)
    assert stats["l0"] <= model.cfg.d_model and stats["dead_fraction"] == 0.0
    ce = ce_recovered(model, sae, rows, batch=2)
    assert ce["tokens"] == 5 * 15
    assert ce["ce_spliced"] == pytest.approx(ce["ce_clean"], abs=1e-4)
    assert ce["ce_loss_recovered"] == pytest.approx(1.0, abs=1e-3)
    logits = model.run(rows).logits[:, :-1].log_softmax(-1)
    by_hand = -logits.gather(-1, rows[:, 1:, None]).mean()
    assert ce["ce_clean"] == pytest.approx(float(by_hand), rel=1e-5)


def test_null_sae_recovers_nothing(model: loupe.HookedModel) -> None:
    rows = torch.randint(0, 2000, (4, 16))
    sae = split_sae(model.cfg.d_model, 0.0)
    ce = ce_recovered(model, sae, rows)
    assert ce["ce_spliced"] == pytest.approx(ce["ce_zero_ablated"], abs=1e-5)
    assert ce["ce_loss_recovered"] == pytest.approx(0.0, abs=1e-3)
    assert reconstruction_stats(model, sae, rows)["explained_variance"] < 0
