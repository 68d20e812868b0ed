"""Run every benchmark in one process and write one JSON file plus a PNG of the headline ratios.

.venv/bin/loupe bench [--quick] [--json FILE] [--only NAME ...]     (or: make bench)
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
from bench.common import machine
from bench.headline import headlines
from bench.plot import plot

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
RESULTS = Path(__file__).parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="loupe bench", description="Run Loupe's benchmarks side by side.")
    parser.add_argument("--quick", action="store_true", help="fewer repeats and lengths (under 3 minutes)")
    parser.add_argument("--json", type=Path, default=RESULTS / "latest.json", help="where to write the results")
    parser.add_argument("--only", nargs="*", choices=ENTRIES, help="run only these entries")
    args = parser.parse_args(argv)
    model = loupe.load()
    started = time.time()
    entries: dict[str, Any] = {}
    for name in args.only or ENTRIES:
        try:
            module = importlib.import_module(f"bench.{name}")
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
        "command": "loupe bench" + (" --quick" if args.quick else ""),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
        "machine": {**machine(), "platform": platform.platform()},
        "model": model.cfg.name,
        "headline": lines,
        "entries": entries,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_bytes(orjson.dumps(out, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    plot(lines, args.json.with_suffix(".png"))
    print("\n== headline")
    for h in lines:
        mark = "ok " if h["met"] else "MISS"
        print(f"{mark} {h['name']}: {h['value']} (target {'<=' if h['better'] == 'lower' else '>='} {h['target']})")
    print(f"\nwrote {args.json} and {args.json.with_suffix('.png')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
