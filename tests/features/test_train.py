"""The TopK SAE trainer: hand-checked encode/decode, learning, determinism, resume, activation caching."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from loupe.features import activations
from loupe.features.topk import TopKSAE, fvu, geometric_median
from loupe.features.train import TrainConfig, fit, save_saelens, train
from tests.conftest import build_hf

SMALL = TrainConfig(d_sae=64, k=4, epochs=2, batch=128, lr=3e-3, checkpoint_every=5, dead_tokens=512)


def sparse_data(n: int = 4096, d: int = 16, atoms: int = 48, seed: int = 0) -> torch.Tensor:
    """Activations that are sums of 3 of `atoms` fixed directions, plus an offset."""
    g = torch.Generator().manual_seed(seed)
    dictionary = torch.randn(atoms, d, generator=g)
    idx = torch.stack([torch.randperm(atoms, generator=g)[:3] for _ in range(n)])
    coef = torch.rand(n, 3, generator=g) + 0.5
    return (coef[..., None] * dictionary[idx]).sum(1) + 3.0


def test_encode_decode_match_the_dense_formula() -> None:
    sae = TopKSAE(16, 64, 4, torch.Generator().manual_seed(0))
    with torch.no_grad():
        sae.b_enc.normal_()
        sae.b_dec.normal_()
    x = torch.randn(32, 16)
    idx, acts = sae.encode(x)
    w = sae.saelens_weights()
    pre = (x - w["b_dec"]) @ w["W_enc"] + w["b_enc"]
    torch.testing.assert_close(acts, pre.gather(1, idx).relu())
    kth = pre.topk(5, dim=-1).values[:, -1:]  # bfloat16 selection: never below the 5th largest
    assert bool((pre.gather(1, idx) >= kth - 0.1).all())
    dense = torch.zeros(32, 64).scatter(1, idx, acts)
    torch.testing.assert_close(sae.decode(idx, acts), dense @ w["W_dec"] + w["b_dec"])


def test_geometric_median_of_a_symmetric_set_is_its_centre() -> None:
    pts = torch.tensor([[1.0, 0], [-1, 0], [0, 1], [0, -1], [50, 50]])
    torch.testing.assert_close(geometric_median(pts[:4] + 2), torch.tensor([2.0, 2.0]))
    assert float(geometric_median(pts).norm()) < 1.0  # the outlier barely moves it (the mean moves 14)


def test_fit_learns_with_unit_norm_decoder(tmp_path: Path) -> None:
    x = sparse_data()
    sae, summary = fit(x, SMALL, tmp_path, show=False)
    idx, acts = sae.encode(x)
    assert float(fvu(x, sae.decode(idx, acts))) < 0.25
    torch.testing.assert_close(sae.W_dec.norm(dim=-1), torch.ones(64))
    assert summary["steps"] == 2 * (4096 // 128)


def test_same_seed_same_weights_and_resume_equals_uninterrupted(tmp_path: Path) -> None:
    x = sparse_data()
    a, _ = fit(x, SMALL, tmp_path / "a", show=False)
    b, _ = fit(x, SMALL, tmp_path / "b", show=False)
    fit(x, SMALL, tmp_path / "c", show=False, stop_after=37)  # stops mid-epoch, between checkpoints
    c, _ = fit(x, SMALL, tmp_path / "c", show=False)
    other, _ = fit(x, TrainConfig(**{**SMALL.__dict__, "seed": 1}), tmp_path / "d", show=False)
    for name, p in a.state_dict().items():
        assert torch.equal(p, b.state_dict()[name]), name
        assert torch.equal(p, c.state_dict()[name]), name
    assert not torch.equal(a.W_dec, other.W_dec)
    with pytest.raises(ValueError, match="another run"):
        fit(x[:2048], SMALL, tmp_path / "a", show=False)


def test_auxk_gives_dead_latents_gradient() -> None:
    sae = TopKSAE(16, 64, 4, torch.Generator().manual_seed(0))
    x = sparse_data(256)
    dead = torch.zeros(64, dtype=torch.bool)
    dead[10:20] = True
    out = sae.step(x, dead, k_aux=4, aux_alpha=1 / 32)
    out.loss.backward()
    assert float(out.aux) > 0
    assert sae.W_dec.grad is not None and bool((sae.W_dec.grad[10:20].abs().sum(-1) > 0).any())


def test_save_saelens_loads_as_a_loupe_sae(tmp_path: Path) -> None:
    from loupe.features.sae import SAE

    sae = TopKSAE(16, 64, 4, torch.Generator().manual_seed(0))
    save_saelens(sae, tmp_path, "blocks.1.hook_resid_post", "tiny", dtype="float32")
    loaded = SAE.load(tmp_path)
    assert loaded.cfg.architecture == "topk" and loaded.cfg.k == 4 and loaded.cfg.hook == "blocks.1.hook_resid_post"
    x = torch.randn(8, 16)
    idx, acts = sae.encode(x)
    dense = torch.zeros(8, 64).scatter(1, idx, acts)
    torch.testing.assert_close(loaded.encode(x), dense, atol=1e-2, rtol=1e-2)  # bf16 selection vs fp32
    torch.testing.assert_close(loaded.decode(dense), sae.decode(idx, acts), atol=1e-5, rtol=1e-5)


def test_train_end_to_end_caches_and_resumes(
    tmp_path: Path, tokenizer: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loupe

    model = loupe.load(build_hf("gpt2"), tokenizer=tokenizer)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(" ".join(f"word{i % 97} is here." for i in range(600)))
    cfg = TrainConfig(d_sae=64, k=4, epochs=1, batch=64, checkpoint_every=4)
    summary = train(
        model, corpus, "blocks.1.hook_resid_post", tmp_path / "sae", tokens=1024, seq_len=32, cfg=cfg, show=False
    )
    assert summary["tokens"] == 1024 and summary["steps"] == 16
    assert {"cfg.json", "sae_weights.safetensors", "training.json", "checkpoint.pt"} <= {
        p.name for p in (tmp_path / "sae").iterdir()
    }
    calls = []
    real = activations.hook_activation
    monkeypatch.setattr(activations, "hook_activation", lambda *a: calls.append(1) or real(*a))
    train(model, corpus, "blocks.1.hook_resid_post", tmp_path / "sae", tokens=1024, seq_len=32, cfg=cfg, show=False)
    assert calls == []  # the cache and the finished checkpoint were reused
    with pytest.raises(ValueError, match="other token rows"):
        activations.cache_activations(
            model, torch.zeros(4, 32, dtype=torch.long), "blocks.1.hook_resid_post", tmp_path / "sae" / "cache"
        )
