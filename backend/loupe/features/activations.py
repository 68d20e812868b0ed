"""Token rows from a corpus and the activations a model writes at one hook point, cached on disk in shards."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from loupe.engine.model import HookedModel
from loupe.features.dashboard import hook_activation

Progress = Callable[[int, int], None]  # (rows done, rows in all)


def token_rows(model: HookedModel, texts: Iterable[str], seq_len: int, n_rows: int, seed: int) -> torch.Tensor:
    """[n_rows, seq_len] token ids: the documents shuffled by `seed`, joined by EOS and cut into rows."""
    docs = list(texts)
    random.Random(seed).shuffle(docs)
    tok = model.tokenizer
    eos = tok.eos_token_id
    stream: list[int] = []
    for doc in docs:
        stream += [*tok(doc)["input_ids"], eos]
        if len(stream) >= n_rows * seq_len:
            break
    n = min(n_rows, len(stream) // seq_len)
    if n == 0:
        raise ValueError(f"the corpus has fewer than {seq_len} tokens")
    return torch.tensor(stream[: n * seq_len]).view(n, seq_len)


def cache_activations(
    model: HookedModel,
    rows: torch.Tensor,
    hook: str,
    folder: Path | str,
    batch: int = 8,
    shard_rows: int = 128,
    progress: Progress | None = None,
) -> list[Path]:
    """Write activations of `rows` as float16 shards folder/acts-NNNNN.npy [shard_rows*pos, d]; resumable.

    A shard already on disk (from an interrupted run over the same rows) is kept, so a restart goes on where the
    last one stopped. folder/rows.pt holds the token rows the shards belong to (a longer or shorter run over a
    prefix of the same rows shares them).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows_file = folder / "rows.pt"
    old = torch.load(rows_file) if rows_file.exists() else rows
    m = min(len(old), len(rows))
    if old.shape[1:] != rows.shape[1:] or not torch.equal(old[:m], rows[:m]):
        raise ValueError(f"{folder} caches other token rows: remove it or pick another cache folder")
    torch.save(old if len(old) > len(rows) else rows, rows_file)
    paths = []
    for start in range(0, len(rows), shard_rows):
        path = folder / f"acts-{start // shard_rows:05d}.npy"
        paths.append(path)
        if not path.exists():
            chunk = rows[start : start + shard_rows]
            acts = [hook_activation(model, chunk[i : i + batch], hook) for i in range(0, len(chunk), batch)]
            arr = torch.cat(acts).flatten(0, 1).to(torch.float16).cpu().numpy()
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, arr)
            tmp.rename(path)
        if progress is not None:
            progress(min(start + shard_rows, len(rows)), len(rows))
    return paths


def load_shards(paths: Iterable[Path]) -> torch.Tensor:
    """All cached activations as one float16 [n, d] tensor."""
    return torch.cat([torch.from_numpy(np.load(p)) for p in paths])
