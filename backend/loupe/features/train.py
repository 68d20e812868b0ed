"""Train a TopK SAE on a model's activations at one hook point: `train` (corpus in, SAELens folder out) and
`fit` (the loop over cached activations, with a progress bar, checkpoint/resume and seeded determinism)."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from loupe.engine.model import HookedModel
from loupe.features import activations
from loupe.features.corpus import read_texts
from loupe.features.topk import TopKSAE, fvu

CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class TrainConfig:
    """Hyper-parameters; the defaults are those of the shipped SAE."""

    d_sae: int = 4096
    k: int = 32
    epochs: int = 3
    batch: int = 512  # activations (tokens) per step
    lr: float = 1e-3  # Adam; the last `decay` fraction of the steps decays it linearly to 0
    decay: float = 0.2
    k_aux: int = 256
    aux_alpha: float = 1 / 32
    dead_tokens: int = 100_000  # a latent is dead when it has not fired for this many tokens
    checkpoint_every: int = 200  # steps
    seed: int = 0


def fit(
    acts: torch.Tensor, cfg: TrainConfig, out: Path | str, show: bool = True, stop_after: int | None = None
) -> tuple[TopKSAE, dict[str, Any]]:
    """Train on activations [n, d_in]; out/checkpoint.pt is written every cfg.checkpoint_every steps and a run
    that finds one there (with the same config) resumes from it. `stop_after` ends after that many steps in all
    (for tests of resuming). The same seed and data give the same weights, resumed or not."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(cfg.seed)
    sae = TopKSAE(acts.shape[1], cfg.d_sae, cfg.k, gen)
    sae.init_b_dec(acts[torch.randperm(len(acts), generator=gen)[:16384]])
    opt = torch.optim.Adam(sae.parameters(), lr=cfg.lr)
    per_epoch = len(acts) // cfg.batch
    if per_epoch == 0:
        raise ValueError(f"{len(acts)} activations is fewer than one batch of {cfg.batch}")
    total = per_epoch * cfg.epochs
    state: dict[str, Any] = {"step": 0, "since_fired": torch.zeros(cfg.d_sae, dtype=torch.long), "fvu_ema": 1.0}
    ckpt = out / CHECKPOINT
    if ckpt.exists():
        saved = torch.load(ckpt, weights_only=False)
        if saved["config"] != asdict(cfg) or saved["n"] != len(acts):
            raise ValueError(f"{ckpt} belongs to another run (config or data differ): remove it to start afresh")
        sae.load_state_dict(saved["sae"])
        opt.load_state_dict(saved["opt"])
        state = saved["state"]
    bar = tqdm(total=total, initial=state["step"], disable=not show, unit="step", file=sys.stderr, smoothing=0.1)
    t0, start = time.perf_counter(), state["step"]
    while state["step"] < total and (stop_after is None or state["step"] < stop_after):
        epoch, pos = divmod(state["step"], per_epoch)
        perm = torch.randperm(len(acts), generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch + 1))
        for b in range(pos, per_epoch):
            x = acts[perm[b * cfg.batch : (b + 1) * cfg.batch]].float()
            _train_step(sae, opt, x, cfg, state, total)
            bar.update(1)
            tps = (state["step"] - start) * cfg.batch / max(time.perf_counter() - t0, 1e-9)
            bar.set_postfix_str(f"{tps:,.0f} tok/s, FVU {state['fvu_ema']:.3f}, dead {state['dead']:.1%}")
            done = state["step"] == total or state["step"] == stop_after
            if state["step"] % cfg.checkpoint_every == 0 or done:
                _save_checkpoint(ckpt, sae, opt, state, cfg, len(acts))
            if done:
                break
    bar.close()
    return sae, {"steps": state["step"], "tokens_seen": state["step"] * cfg.batch, "train_fvu": state["fvu_ema"]}


def _train_step(
    sae: TopKSAE, opt: torch.optim.Optimizer, x: torch.Tensor, cfg: TrainConfig, state: dict[str, Any], total: int
) -> None:
    dead = state["since_fired"] > cfg.dead_tokens
    out = sae.step(x, dead, cfg.k_aux, cfg.aux_alpha)
    opt.zero_grad(set_to_none=True)
    out.loss.backward()
    sae.project_decoder_grad()
    torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
    left = 1 - state["step"] / total
    for group in opt.param_groups:
        group["lr"] = cfg.lr * min(1.0, left / cfg.decay) if cfg.decay > 0 else cfg.lr
    opt.step()
    sae.normalize_decoder()
    state["since_fired"] += len(x)
    state["since_fired"][out.fired] = 0
    state["step"] += 1
    state["fvu_ema"] = 0.98 * state["fvu_ema"] + 0.02 * float(out.fvu) if state["step"] > 1 else float(out.fvu)
    state["dead"] = float((state["since_fired"] > cfg.dead_tokens).float().mean())


def _save_checkpoint(
    path: Path, sae: TopKSAE, opt: torch.optim.Optimizer, state: dict[str, Any], cfg: TrainConfig, n: int
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"sae": sae.state_dict(), "opt": opt.state_dict(), "state": state, "config": asdict(cfg), "n": n}, tmp)
    os.replace(tmp, path)


def save_saelens(sae: TopKSAE, folder: Path | str, hook: str, model_name: str, dtype: str = "float16") -> Path:
    """Write the SAE as SAELens's (6.x) cfg.json + sae_weights.safetensors, topk architecture."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = {n: w.to(getattr(torch, dtype)) for n, w in sae.saelens_weights().items()}
    save_file(weights, folder / "sae_weights.safetensors")
    cfg = {
        "architecture": "topk",
        "d_in": sae.W_dec.shape[1],
        "d_sae": sae.d_sae,
        "k": sae.k,
        "dtype": dtype,
        "device": "cpu",
        "apply_b_dec_to_input": True,
        "rescale_acts_by_decoder_norm": False,
        "normalize_activations": "none",
        "reshape_activations": "none",
        "metadata": {
            "sae_lens_version": "6.0.0",
            "sae_lens_training_version": "6.0.0",
            "hook_name": hook,
            "model_name": model_name,
        },
    }
    (folder / "cfg.json").write_text(json.dumps(cfg, indent=2) + "\n")
    return folder


def train(
    model: HookedModel,
    corpus: Path | str,
    hook: str,
    out: Path | str,
    tokens: int = 1_000_000,
    seq_len: int = 128,
    cache: Path | str | None = None,
    cfg: TrainConfig = TrainConfig(),
    show: bool = True,
) -> dict[str, Any]:
    """Train a TopK SAE on `model`'s activations at `hook` over the texts of folder `corpus`; save it to `out`.

    Activations of `tokens` tokens (rows of `seq_len`) are cached as float16 shards in `cache` (default
    out/cache) so an interrupted run, or a second run with other hyper-parameters, does not recompute them.
    Returns the training summary, also written to out/training.json."""
    out = Path(out)
    cache = Path(cache) if cache is not None else out / "cache"
    t0 = time.perf_counter()
    n_rows = math.ceil(tokens / seq_len)
    rows = activations.token_rows(model, read_texts(corpus), seq_len, n_rows, cfg.seed)
    bar = tqdm(total=len(rows), disable=not show, unit="row", desc="activations", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        bar.update(done - bar.n)

    shards = activations.cache_activations(model, rows, hook, cache, progress=progress)
    bar.close()
    acts = activations.load_shards(shards)
    t_acts = time.perf_counter() - t0
    sae, summary = fit(acts, cfg, out, show=show)
    with torch.no_grad():
        sample = acts[:65536].float()
        idx, vals = sae.encode(sample)
        summary["fvu_first_64k"] = float(fvu(sample, sae.decode(idx, vals)))
    save_saelens(sae, out, hook, model.cfg.name)
    summary.update(
        hook=hook,
        tokens=acts.shape[0],
        seq_len=seq_len,
        corpus=str(corpus),
        config=asdict(cfg),
        seconds_activations=round(t_acts, 1),
        seconds_total=round(time.perf_counter() - t0, 1),
    )
    (out / "training.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary
