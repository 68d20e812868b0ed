"""Browser frame time: drawing a 12-layer x 12-head attention grid in headless Chromium (Performance API).

Runs the frontend's Playwright benchmark (`npm run bench` in frontend/, Debian's Chromium) and reads the
results file it writes; needs `make frontend` (node_modules) and /usr/bin/chromium.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import orjson

import loupe
from loupe.bench.common import CHECKOUT

FRONTEND = CHECKOUT / "frontend"
RESULTS = FRONTEND / "bench" / "results.json"


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    """`model` is unused: the browser draws synthetic thumbnails of SmolLM2's and a 12x12 model's shape."""
    if shutil.which("npm") is None or not (FRONTEND / "node_modules").exists():
        return {"name": "browser", "skipped": "frontend not installed (make frontend)"}
    done = subprocess.run(["npm", "run", "bench"], cwd=FRONTEND, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"name": "browser", "skipped": f"npm run bench failed: {done.stderr[-500:]}"}
    data = orjson.loads(RESULTS.read_bytes())
    grid = next(r for r in data["results"] if (r["layers"], r["heads"], r["P"], r["fresh"]) == (12, 12, 64, True))
    return {"name": "browser", "frame_ms": grid["drawMedianMs"], "p95_ms": grid["drawP95Ms"], "target_ms": 16, **data}


def report(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    lines = ["layers x heads  P   fresh  draw median  p95"]
    for r in result["results"]:
        lines.append(
            f"{r['layers']:>6} x {r['heads']:<5} {r['P']:>3}  {r['fresh']!s:5}  {r['drawMedianMs']:8.1f} ms  "
            f"{r['drawP95Ms']:5.1f} ms"
        )
    return "\n".join(lines)
