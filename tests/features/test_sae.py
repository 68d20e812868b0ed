"""The SAE type: encode/decode of each architecture by hand, save/load, and the round trip with sae-lens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from loupe.errors import LoupeError
from loupe.features.sae import SAE
from tests.features.helpers import random_sae

ARCHS = ["standard", "topk", "jumprelu"]
ROOT = Path(__file__).resolve().parents[2]
ORACLE = Path(os.environ.get("LOUPE_SAELENS_ORACLE", ROOT / ".venv" / "sae-lens-oracle"))


def by_hand(sae: SAE, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Encode and decode in float64 numpy, straight from the formulas in SAELens's papers and code."""
    w_enc, w_dec = sae.W_enc.double().numpy(), sae.W_dec.double().numpy()
    b_enc, b_dec = sae.b_enc.double().numpy(), sae.b_dec.double().numpy()
    pre = (x - b_dec) @ w_enc + b_enc
    if sae.cfg.architecture == "standard":
        acts = np.maximum(pre, 0)
    elif sae.cfg.architecture == "jumprelu":
        assert sae.threshold is not None
        acts = np.where(pre > sae.threshold.double().numpy(), np.maximum(pre, 0), 0.0)
    else:
        acts = np.zeros_like(pre)
        for idx in np.ndindex(pre.shape[:-1]):
            top = np.argsort(-pre[idx])[: sae.cfg.k]
            acts[idx][top] = np.maximum(pre[idx][top], 0)
    return acts, acts @ w_dec + b_dec


@pytest.mark.parametrize("arch", ARCHS)
def test_encode_decode_by_hand(arch: str) -> None:
    sae = random_sae(arch)
    x = np.random.default_rng(0).normal(size=(2, 5, 32))
    acts, recon = by_hand(sae, x)
    got = sae.encode(torch.from_numpy(x).float())
    assert got.shape == (2, 5, 96) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), acts, atol=1e-5)
    np.testing.assert_allclose(sae.decode(got).numpy(), recon, atol=1e-5)
    fired = (got > 0).sum(-1)
    if arch == "topk":
        assert int(fired.max()) <= 8
    assert 0 < int(fired.min()) < 96  # the check is not vacuous: some features fire, some do not


def test_rescaled_topk_decodes_with_unit_rows() -> None:
    sae = random_sae("topk")
    sae.cfg = type(sae.cfg)(**{**sae.cfg.__dict__, "rescale_acts_by_decoder_norm": True})
    x = torch.randn(4, 32)
    norms = sae.W_dec.norm(dim=-1)
    pre = ((x - sae.b_dec) @ sae.W_enc + sae.b_enc) * norms
    top = pre.topk(8, dim=-1)
    acts = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
    torch.testing.assert_close(sae.encode(x), acts)
    torch.testing.assert_close(sae.decode(acts), (acts / norms) @ sae.W_dec + sae.b_dec)


@pytest.mark.parametrize("arch", ARCHS)
def test_save_load(tmp_path: Path, arch: str) -> None:
    sae = random_sae(arch, id="mine")
    sae.save(tmp_path / "a")
    again = SAE.load(tmp_path / "a")
    assert again.id == "a" and again.cfg == sae.cfg and again.hook == "blocks.1.hook_resid_post"
    for name in ("W_enc", "W_dec", "b_enc", "b_dec"):
        torch.testing.assert_close(getattr(again, name), getattr(sae, name), rtol=0, atol=0)
    sae.save(tmp_path / "h", dtype="float16")
    half = SAE.load(tmp_path / "h", id="half")
    assert half.id == "half" and half.cfg.dtype == "float16" and half.W_enc.dtype == torch.float32
    torch.testing.assert_close(half.W_dec, sae.W_dec.half().float(), rtol=0, atol=0)


def test_reads_pre_6_layout(tmp_path: Path) -> None:
    sae = random_sae("topk")
    sae.save(tmp_path)
    old = {
        "d_in": 32,
        "d_sae": 96,
        "hook_point": "blocks.1.hook_resid_post",
        "activation_fn_str": "topk",
        "activation_fn_kwargs": {"k": 8},
        "model_name": "tiny",
        "dtype": "float32",
    }
    (tmp_path / "cfg.json").write_text(json.dumps(old))
    loaded = SAE.load(tmp_path)
    assert loaded.cfg.architecture == "topk" and loaded.cfg.k == 8 and loaded.hook == "blocks.1.hook_resid_post"


# --- sae-lens, both ways ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def saelens(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """For each arch: ("loupe", arch) = a folder Loupe saved, which sae-lens loaded; ("sae-lens", arch) = a folder
    sae-lens saved. Each folder's io.npz holds x and sae-lens's acts and recon of it. One subprocess for all."""
    if not (ORACLE / "sae_lens").is_dir():
        pytest.skip(f"sae-lens oracle not installed at {ORACLE} (make venv installs it)")
    root = tmp_path_factory.mktemp("saelens")
    rng = np.random.default_rng(1)
    jobs, folders = [], {}
    for arch in ARCHS:
        for side in ("loupe", "sae-lens"):
            folder = root / f"{side}-{arch}"
            folder.mkdir()
            np.savez(folder / "io.npz", x=rng.normal(size=(3, 7, 32)).astype(np.float32), d_sae=np.array(80))
            if side == "loupe":
                random_sae(arch).save(folder / "sae")
                jobs.append({"mode": "load", "folder": str(folder / "sae"), "io": str(folder / "io.npz")})
            else:
                jobs.append({"mode": "save", "arch": arch, "folder": str(folder / "sae"), "io": str(folder / "io.npz")})
            folders[side, arch] = folder
    (root / "jobs.json").write_text(json.dumps(jobs))
    env = {**os.environ, "PYTHONPATH": f"{ORACLE}{os.pathsep}{ROOT}"}
    script = str(Path(__file__).with_name("saelens_oracle.py"))
    out = subprocess.run(
        [sys.executable, script, str(root / "jobs.json")], env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return folders


@pytest.mark.parametrize("arch", ARCHS)
def test_loupe_saved_loads_in_sae_lens(saelens: dict[tuple[str, str], Path], arch: str) -> None:
    folder = saelens["loupe", arch]
    theirs = np.load(folder / "io.npz")
    sae = random_sae(arch)
    ours = sae.encode(torch.from_numpy(theirs["x"]))
    np.testing.assert_allclose(theirs["acts"], ours.numpy(), atol=1e-5)
    np.testing.assert_allclose(theirs["recon"], sae.decode(ours).numpy(), atol=1e-5)
    assert (theirs["acts"] > 0).any()


@pytest.mark.parametrize("arch", ARCHS)
def test_sae_lens_saved_loads_in_loupe(saelens: dict[tuple[str, str], Path], arch: str) -> None:
    folder = saelens["sae-lens", arch]
    theirs = np.load(folder / "io.npz")
    sae = SAE.load(folder / "sae", id="theirs")
    assert sae.cfg.architecture == arch and sae.hook == "blocks.1.hook_resid_post" and sae.d_sae == 80
    ours = sae.encode(torch.from_numpy(theirs["x"]))
    np.testing.assert_allclose(ours.numpy(), theirs["acts"], atol=1e-5)
    np.testing.assert_allclose(sae.decode(ours).numpy(), theirs["recon"], atol=1e-5)
    assert (theirs["acts"] > 0).any()


# --- bad files --------------------------------------------------------------------------------


def saved(tmp_path: Path, arch: str = "jumprelu") -> Path:
    random_sae(arch).save(tmp_path / "s")
    return tmp_path / "s"


def expect(folder: Path, *words: str) -> None:
    with pytest.raises(LoupeError) as info:
        SAE.load(folder)
    assert info.value.code == "bad_input"
    for w in words:
        assert w in info.value.message, info.value.message


def test_corrupt_cfg(tmp_path: Path) -> None:
    folder = saved(tmp_path)
    cfg = folder / "cfg.json"
    good = json.loads(cfg.read_text())
    cfg.write_text("{not json")
    expect(folder, "cfg.json", "not valid JSON")
    cfg.write_text(json.dumps({**good, "architecture": "gated"}))
    expect(folder, "cfg.json", "architecture", "gated")
    cfg.write_text(json.dumps({**good, "metadata": {}}))
    expect(folder, "cfg.json", "hook")
    cfg.write_text(json.dumps({**good, "d_sae": "many"}))
    expect(folder, "d_sae")
    cfg.write_text(json.dumps({**good, "normalize_activations": "layer_norm"}))
    expect(folder, "normalize_activations", "layer_norm")
    cfg.write_text(json.dumps({**good, "d_sae": 95}))
    expect(folder, "sae_weights.safetensors", "W_enc", "[32, 95]")
    cfg.unlink()
    expect(folder, "no cfg.json")


def test_corrupt_weights(tmp_path: Path) -> None:
    folder = saved(tmp_path)
    weights = folder / "sae_weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    expect(folder, "sae_weights.safetensors", "safetensors")
    weights.write_bytes(b"\x00" * 64)
    expect(folder, "sae_weights.safetensors")
    random_sae("standard").save(tmp_path / "std")
    (folder / "cfg.json").write_text((tmp_path / "std" / "cfg.json").read_text().replace('"standard"', '"jumprelu"'))
    weights.write_bytes((tmp_path / "std" / "sae_weights.safetensors").read_bytes())
    expect(folder, "threshold")
    expect(tmp_path / "nowhere", "does not exist")


def test_does_not_fit_model(make_pair) -> None:  # type: ignore[no-untyped-def]
    model, _ = make_pair("llama")  # d_model 32, 2 layers
    random_sae(hook="blocks.1.hook_resid_post").check_fits(model)
    with pytest.raises(LoupeError, match=r"d_in 16 but blocks.1.hook_resid_post .* has 32"):
        random_sae(d_in=16).check_fits(model)
    with pytest.raises(LoupeError, match=r"blocks.7.hook_resid_post.*does not have"):
        random_sae(hook="blocks.7.hook_resid_post").check_fits(model)
    with pytest.raises(LoupeError, match="per-token point"):
        random_sae(hook="blocks.0.attn.hook_z").check_fits(model)


def test_hf_spec_errors() -> None:
    with pytest.raises(LoupeError, match=r"expected hf://owner/repo\[/subfolder\]"):
        SAE.load("hf://just-owner")


def test_load_from_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """hf://owner/repo[/sub] through huggingface_hub.snapshot_download, here answered from a local folder: only
    the SAE's and its dashboard's files are asked for, and they load as the folder does."""
    repo = tmp_path / "hub" / "owner" / "saes"
    saved = random_sae("jumprelu", id="l1")
    saved.save(repo / "layer1")
    saved.save(repo)  # an SAE at the repo's root too
    (repo / "layer1" / "README.md").write_text("not asked for")
    asked: list[tuple[str, list[str]]] = []

    def snapshot_download(repo_id: str, allow_patterns: list[str]) -> str:
        asked.append((repo_id, allow_patterns))
        if repo_id != "owner/saes":
            raise OSError(f"404 Client Error: Repository Not Found for url: https://huggingface.co/{repo_id}")
        snap = tmp_path / "snapshots" / str(len(asked))
        for f in repo.rglob("*"):
            rel = f.relative_to(repo).as_posix()
            if f.is_file() and rel in allow_patterns:
                (snap / rel).parent.mkdir(parents=True, exist_ok=True)
                (snap / rel).write_bytes(f.read_bytes())
        return str(snap)

    monkeypatch.setattr("huggingface_hub.snapshot_download", snapshot_download)
    sae = SAE.load("hf://owner/saes/layer1")
    assert asked[0] == (
        "owner/saes",
        [f"layer1/{f}" for f in ("cfg.json", "sae_weights.safetensors", "dashboard.safetensors", "dashboard.json")],
    )
    assert not (tmp_path / "snapshots" / "1" / "layer1" / "README.md").exists()
    assert sae.id == "layer1" and sae.cfg.architecture == "jumprelu" and sae.dashboard is None
    for name in ("W_enc", "W_dec", "b_enc", "b_dec", "threshold"):
        torch.testing.assert_close(getattr(sae, name), getattr(saved, name), rtol=0, atol=0)
    root = SAE.load("hf://owner/saes", id="mine")
    assert root.id == "mine" and asked[1][1][0] == "cfg.json"
    assert SAE.load("hf://owner/saes/").id == "saes"
    with pytest.raises(LoupeError, match=r"could not download SAE 'hf://owner/nope/x': OSError: 404") as err:
        SAE.load("hf://owner/nope/x")
    assert err.value.code == "bad_input"
