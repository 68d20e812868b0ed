"""`loupe serve --ray`: the options, and the spec they make (imports no Ray until it serves)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from loupe.errors import LoupeError
from loupe.server.limits import Limits


def add_ray_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("scaling out on Ray Serve (needs `pip install loupe[ray]`; README: Scaling out)")
    g.add_argument(
        "--ray",
        action="store_true",
        help="serve replicas placed by Ray Serve behind one balancer at --host:--port; "
        "--model may then list several models, comma-separated (clients pick one with ?model=NAME, "
        "NAME as /api/health lists it)",
    )
    g.add_argument("--ray-address", default=None, metavar="ADDR", help="join this Ray cluster (default: start one)")
    g.add_argument("--replicas", type=int, default=1, help="replicas of each model (default 1)")
    g.add_argument("--autoscale", default=None, metavar="MIN:MAX", help="autoscale each model on open sessions")
    g.add_argument("--target-sessions", type=int, default=8, help="with --autoscale: sessions per replica (default 8)")


def _autoscale(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    low, sep, high = text.partition(":")
    if not (sep and low.isdigit() and high.isdigit()):
        raise LoupeError("bad_config", f"--autoscale {text!r}: expected MIN:MAX, e.g. 1:4")
    return int(low), int(high)


def _absolute(spec: str) -> str:
    """An `--sae` folder made absolute (replicas do not start in this directory); hf:// specs as given."""
    from loupe.features.attach import parse_spec

    path, sae_id = parse_spec(spec)
    if "://" in path:
        return spec
    return str(Path(path).resolve()) + (f":{sae_id}" if sae_id else "")


def serve_ray_main(args: argparse.Namespace) -> int:
    from loupe.scale.run import serve_ray
    from loupe.scale.spec import ScaleSpec

    models = tuple(m.strip() or None for m in args.model.split(",")) if args.model else (None,)
    spec = ScaleSpec(
        models=models,
        replicas=args.replicas,
        host=args.host,
        port=args.port,
        device=args.device,
        token=args.token,
        allowed_origins=args.allowed_origins,
        allowed_hosts=",".join(args.allow_host) or os.environ.get("LOUPE_ALLOWED_HOSTS") or None,
        limits=Limits.configured(os.environ, args.limit),
        num_gpus=1.0 if args.device.startswith("cuda") else 0.0,
        autoscale=_autoscale(args.autoscale),
        target_sessions=args.target_sessions,
        saes=tuple(_absolute(spec) for spec in args.sae),
        shipped_sae=not args.no_sae,
    )
    return serve_ray(spec.with_token(), args.ray_address)
