"""`loupe features corpus` (build the offline corpus) and `loupe features train` (train a TopK SAE)."""

from __future__ import annotations

import argparse
import json
import sys

from loupe.features.train import TrainConfig

DEFAULTS = TrainConfig()


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="features_command", required=True)
    c = sub.add_parser("corpus", help="build the offline corpus from Debian packages (see `make corpus`)")
    c.add_argument("out", help="output folder (train/, heldout/, manifest.json)")
    c.add_argument("--no-count", action="store_true", help="skip counting tokens with the embedded tokenizer")
    c.set_defaults(features_main=corpus_main)

    t = sub.add_parser("train", help="train a TopK SAE on a model's activations at one hook point")
    t.add_argument("--corpus", required=True, help="folder of .txt / .jsonl ({'text': ...}) files")
    t.add_argument("--hook", required=True, help="hook point, e.g. blocks.10.hook_resid_post")
    t.add_argument("--out", required=True, help="output folder: cfg.json, sae_weights.safetensors, checkpoint.pt")
    t.add_argument("--model", default=None, help="HF name or local path (default: the embedded SmolLM2-135M)")
    t.add_argument("--tokens", type=int, default=1_000_000, help="training tokens (default 1e6)")
    t.add_argument("--seq-len", type=int, default=128)
    t.add_argument("--cache", default=None, help="activation cache folder (default OUT/cache)")
    t.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="model dtype for caching")
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    t.add_argument("--quiet", action="store_true", help="no progress bars")
    for name in ("d_sae", "k", "epochs", "batch", "k_aux", "dead_tokens", "checkpoint_every", "seed"):
        t.add_argument("--" + name.replace("_", "-"), type=int, default=getattr(DEFAULTS, name))
    for name in ("lr", "decay", "aux_alpha"):
        t.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(DEFAULTS, name))
    t.set_defaults(features_main=train_main)

    d = sub.add_parser("dashboard", help="compute an SAE's dashboard data over a corpus (e.g. the held-out split)")
    d.add_argument("sae", help="SAE folder; dashboard.safetensors + dashboard.json are written into it")
    d.add_argument("--corpus", required=True, help="folder of .txt / .jsonl files")
    d.add_argument("--model", default=None, help="HF name or local path (default: the embedded SmolLM2-135M)")
    d.add_argument("--tokens", type=int, default=65536)
    d.add_argument("--seq-len", type=int, default=128)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(features_main=dashboard_main)


def main(args: argparse.Namespace) -> int:
    return int(args.features_main(args))


def corpus_main(args: argparse.Namespace) -> int:
    from loupe.features import corpus

    tokenizer = None
    if not args.no_count:
        from transformers import AutoTokenizer

        from loupe.engine.loading import embedded_checkpoint

        tokenizer = AutoTokenizer.from_pretrained(embedded_checkpoint())
    manifest = corpus.build(args.out, tokenizer)
    print(json.dumps(manifest["tokens"]))
    return 0


def train_main(args: argparse.Namespace) -> int:
    import torch

    from loupe.engine.allocator import keep_freed_memory
    from loupe.engine.loading import load
    from loupe.features.train import train

    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()
    cfg = TrainConfig(**{k: getattr(args, k) for k in DEFAULTS.__dataclass_fields__})
    model = load(args.model)
    model.hf.to(getattr(torch, args.dtype))
    if args.hook not in model.points.names:
        print(f"loupe features train: {model.cfg.name} has no hook point {args.hook!r}", file=sys.stderr)
        return 1
    summary = train(model, args.corpus, args.hook, args.out, args.tokens, args.seq_len, args.cache, cfg, not args.quiet)
    print(json.dumps({k: v for k, v in summary.items() if k != "config"}))
    return 0


def dashboard_main(args: argparse.Namespace) -> int:
    from loupe.engine.loading import load
    from loupe.features.activations import token_rows
    from loupe.features.corpus import read_texts
    from loupe.features.dashboard import compute_dashboard
    from loupe.features.sae import SAE

    model = load(args.model)
    sae = SAE.load(args.sae)
    sae.check_fits(model)
    rows = token_rows(model, read_texts(args.corpus), args.seq_len, -(-args.tokens // args.seq_len), args.seed)
    info = {"corpus": str(args.corpus), "tokens": rows.numel(), "seq_len": args.seq_len}
    dash = compute_dashboard(
        model, sae, rows, progress=lambda done, n: print(f"{done}/{n} rows", file=sys.stderr), info=info
    )
    dash.save(args.sae)
    print(json.dumps(info))
    return 0
