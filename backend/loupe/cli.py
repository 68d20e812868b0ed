"""The `loupe` command: `serve`, `run`, `bench`, `features`. Each subcommand is a (name, help, add_arguments, main)
entry in SUBCOMMANDS; to add one, write its two functions and append an entry."""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from typing import Any

DEFAULT_SERVER = "ws://127.0.0.1:8000/ws"


SERVE_EPILOG = """\
environment (docker-compose.yml passes these):
  LOUPE_MODEL             default for --model
  LOUPE_TOKEN             default for --token
  LOUPE_ALLOWED_ORIGINS   default for --allowed-origins
  LOUPE_ALLOWED_HOSTS     default for --allow-host (comma-separated)
  LOUPE_LIMIT_<NAME>      change one limit, e.g. LOUPE_LIMIT_MAX_SESSIONS=32 (--limit wins over it)

limits (defaults; every one can be changed; a request over one gets an `error` frame):
  {limits}
"""


def _env(name: str) -> str | None:
    """An environment variable, with empty meaning unset (compose passes `${X:-}` as an empty string)."""
    return os.environ.get(name) or None


def serve_args(p: argparse.ArgumentParser) -> None:
    from loupe.server.limits import Limits

    p.formatter_class = argparse.RawDescriptionHelpFormatter
    limits = Limits().describe().replace(", ", "\n  ")
    p.epilog = SERVE_EPILOG.format(limits=limits)
    p.add_argument(
        "--model",
        default=_env("LOUPE_MODEL"),
        help="HF name or local path; only the operator picks it, no client can load a model "
        "(default: $LOUPE_MODEL, else the embedded SmolLM2-135M)",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--token",
        default=_env("LOUPE_TOKEN"),
        help="session token every hello must carry (default: $LOUPE_TOKEN; generated and printed when "
        "binding a non-loopback address without one)",
    )
    p.add_argument(
        "--allowed-origins",
        default=_env("LOUPE_ALLOWED_ORIGINS"),
        metavar="LIST",
        help="comma-separated browser origins (https://lab.example.org) or host names allowed to open "
        "WebSockets, besides the server's own host and loopback pages (default: $LOUPE_ALLOWED_ORIGINS)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name (e.g. of a reverse proxy) the server answers to besides localhost, 127.0.0.1 and "
        "[::1] (repeatable; default: $LOUPE_ALLOWED_HOSTS); a server bound to loopback refuses other names "
        "with HTTP 403 against DNS rebinding",
    )
    p.add_argument(
        "--sae",
        action="append",
        default=[],
        metavar="PATH[:ID]",
        help="attach a sparse autoencoder: a folder in SAELens's format (cfg.json + sae_weights.safetensors, "
        "optional dashboard) or hf://owner/repo/subfolder; ID defaults to the folder's name (repeatable)",
    )
    p.add_argument(
        "--no-sae",
        action="store_true",
        help="do not attach the SAE shipped for the embedded model (attached by default when installed)",
    )
    p.add_argument(
        "--deflate",
        action="store_true",
        help="compress WebSocket frames (permessage-deflate): about half the bytes of a run's frames, at ~0.3x a "
        "forward pass of CPU per T=64 run on 2 cores; off by default, for loopback and LAN",
    )
    p.add_argument(
        "--limit",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="change one limit (repeatable), e.g. --limit max_sessions=32; see the list below",
    )
    from loupe.scale.cli import add_ray_args

    add_ray_args(p)


def serve_main(args: argparse.Namespace) -> int:
    if args.ray:
        if args.deflate:
            print("loupe serve: --deflate applies to a single server, not to --ray deployments", file=sys.stderr)
            return 2
        from loupe.scale.cli import serve_ray_main

        return serve_ray_main(args)
    import uvicorn

    import loupe
    from loupe.engine.compute import serving_thread
    from loupe.errors import LoupeError
    from loupe.features.attach import attach
    from loupe.server.app import create_app
    from loupe.server.background import websocket_options
    from loupe.server.limits import Limits
    from loupe.server.origins import is_loopback, parse_list, parse_origins

    limits = Limits.configured(os.environ, args.limit)  # before loading: a typo fails fast
    origins = parse_origins(args.allowed_origins)
    token = args.token
    if token is None and not is_loopback(args.host):
        token = secrets.token_urlsafe(16)
    # only the compute thread forks OpenMP threads, from the first torch op on (engine/compute.py says why):
    # this thread, which serves the event loop, runs torch single-threaded, and the model loads over there
    with serving_thread() as compute:
        print(f"loading {args.model or 'the embedded model'} ...", file=sys.stderr)
        model = compute.call(lambda: loupe.load(args.model, device=args.device))
        model.compute = compute
        try:
            saes = compute.call(lambda: attach(model, args.sae, shipped=args.model is None and not args.no_sae))
        except LoupeError as exc:
            print(f"loupe serve: {exc.message}", file=sys.stderr)
            return 2
        hosts = parse_list(args.allow_host or _env("LOUPE_ALLOWED_HOSTS"))
        app = create_app(model, limits, token=token, allowed_origins=origins, bind=args.host, allowed_hosts=hosts)
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        url = f"http://{shown}:{args.port}/" + (f"?token={token}" if token else "")
        print(f"Loupe serving {model.cfg.name} at {url}  (WebSocket: /ws)", file=sys.stderr)
        for sae in saes:
            print(f"SAE {sae!r}{'' if sae.dashboard is None else ' with dashboard'}", file=sys.stderr)
        if hosts:
            print(f"allowed hosts: {', '.join(sorted(hosts))}", file=sys.stderr)
        if origins:
            print(f"allowed origins: {', '.join(sorted(origins))}", file=sys.stderr)
        if limits != Limits():
            print(f"limits: {limits.describe()}", file=sys.stderr)
        uvicorn.run(app, host=args.host, port=args.port, **websocket_options(limits.transport_max_bytes, args.deflate))
        return 0


def run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("prompt")
    p.add_argument("--server", default=DEFAULT_SERVER, help=f"WebSocket URL (default {DEFAULT_SERVER})")
    p.add_argument("--capture", action="append", default=[], help="hook name or glob; repeatable")
    p.add_argument("--top-k", type=int, default=10)
    p.add_argument("--npz", default=None, help="save the captured tensors to this .npz file")
    p.add_argument("--token", default=None)


def run_main(args: argparse.Namespace) -> int:
    import numpy as np

    from loupe.client import Client

    async def go() -> int:
        async with Client(args.server, token=args.token) as c:
            out = await c.run(args.prompt, capture=args.capture, top_k=args.top_k)
        print(f"{c.model['name']}: {len(out.str_tokens)} tokens {out.str_tokens!r}, {out.ms:.0f} ms")
        for p in out.top_k:
            print(f"  {p['prob']:7.4f}  {p['logit']:8.3f}  {p['str']!r}")
        for name, arr in out.cache.items():
            print(f"  captured {name} {list(arr.shape)}")
        if args.npz:
            np.savez(args.npz, **out.cache)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
            print(f"saved {len(out.cache)} tensors to {args.npz}")
        return 0

    return asyncio.run(go())


Subcommand = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]


def bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="fewer repeats and lengths (under 3 minutes)")
    p.add_argument(
        "--json",
        default=None,
        help="result file (default: bench/results/latest.json of the checkout, else ./bench-results/; a PNG beside it)",
    )
    p.add_argument("--only", nargs="*", default=None, help="run only these entries")
    p.add_argument("--model", default=None, help="HF name or local path (default: the embedded SmolLM2-135M)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")


def bench_main(args: argparse.Namespace) -> int:
    """Run the benchmarks of `loupe.bench` (installed with the package)."""
    from loupe.bench.run import main as bench

    given = {"--json": args.json, "--model": args.model, "--device": args.device if args.device != "cpu" else None}
    argv = (["--quick"] if args.quick else []) + [x for k, v in given.items() if v for x in (k, v)]
    return bench(argv + (["--only", *args.only] if args.only else []))


def features_args(p: argparse.ArgumentParser) -> None:
    from loupe.features.cli import add_arguments

    add_arguments(p)


def features_main(args: argparse.Namespace) -> int:
    from loupe.features.cli import main as features

    return features(args)


SUBCOMMANDS: list[Subcommand] = [
    ("serve", "serve a model over HTTP + WebSocket", serve_args, serve_main),
    ("run", "run a prompt on a server and print the next-token predictions", run_args, run_main),
    ("bench", "run the benchmarks side by side and write JSON + a PNG plot", bench_args, bench_main),
    ("features", "sparse autoencoders: build the offline corpus, train a TopK SAE", features_args, features_main),
]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="loupe", description="Loupe: a live interpretability workbench")
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text, add_args, main in SUBCOMMANDS:
        sp = sub.add_parser(name, help=help_text, description=help_text)
        add_args(sp)
        sp.set_defaults(main=main)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        code: Any = args.main(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clean one-line message for the known errors
        from loupe.errors import LoupeError

        if not isinstance(exc, LoupeError | OSError):
            raise
        print(f"loupe {args.command}: {exc}", file=sys.stderr)
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
