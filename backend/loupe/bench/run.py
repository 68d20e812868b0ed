"""Run every benchmark in one process and write one JSON file plus a PNG of the headline ratios.

.venv/bin/loupe bench [--quick] [--json FILE] [--only NAME ...] [--model M --device D]     (or: make bench)

The benchmarks are part of the installed package: an operator can run them on a server's own machine and model.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
from pathlib import Path
from typing import Any

import orjson

import loupe
from loupe.bench.common import RESULTS, machine
from loupe.bench.headline import headlines
from loupe.bench.plot import plot

ENTRIES = (
    "capture_overhead",
    "bench_wire",
    "patch_sweep",
    "sessions",
    "generation",
    "browser",
    "scale_out",
    "sae_overhead",
    "sae_quality",
    "feature_card",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loupe bench", description="Run Loupe's benchmarks side by side.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and lengths (under 3 minutes)")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write the results")
    parser.add_argument("--only", nargs="*", choices=ENTRIES, help="run only these entries")
    parser.add_argument("--model", default=None, help="HF name or local path (default: the embedded SmolLM2-135M)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cuda (default cpu)")
    args = parser.parse_args(argv)
    model = loupe.load(args.model, device=args.device)
    started = time.time()
    entries: dict[str, Any] = {}
    for name in args.only or ENTRIES:
        try:
            module = importlib.import_module(f"loupe.bench.{name}")
        except ImportError as exc:
            print(f"[{name}] skipped: {exc}", file=sys.stderr)
            continue
        t0 = time.perf_counter()
        result = module.run(model, quick=args.quick)
        result["wall_s"] = round(time.perf_counter() - t0, 1)
        entries[name] = result
        report = getattr(module, "report", None)
        print(f"\n== {name} ({result['wall_s']} s)\n{report(result) if report else ''}", flush=True)
    lines = headlines(entries)
    out = {
        "command": " ".join(["loupe bench", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
        "machine": {**machine(), "platform": platform.platform()},
        "model": model.cfg.name,
        "headline": lines,
        "entries": entries,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    png = args.json.with_suffix(".png")
    drawn = plot(lines, png)
    print("\n== headline")
    for h in lines:
        mark = "ok " if h["met"] else "MISS"
        print(f"{mark} {h['name']}: {h['value']} (target {'<=' if h['better'] == 'lower' else '>='} {h['target']})")
    print(f"\nwrote {args.json}" + (f" and {png}" if drawn else " (no PNG: matplotlib is not installed)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
