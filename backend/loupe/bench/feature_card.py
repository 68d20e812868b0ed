"""Feature card open time: `features.info` over a real server, and click-to-painted-card in Chromium.

    .venv/bin/python -m loupe.bench.feature_card [--cards N]        (also `loupe bench --only feature_card`)

Target (issue 12): opening a feature card takes <= 300 ms on this machine; the dashboard data is precomputed.
Two numbers, both against a server on a loopback port with the shipped SAE attached:
- `info_ms`: a scripting client's `features.info` round trip (send to reply, msgpack over WebSocket), for
  distinct features one after another;
- `open_ms`: in headless Chromium with the built UI, from the click on a feature chip to the first frame
  after its card (histogram, logit tables, contexts) is in the page (frontend/bench/featurecard.bench.ts).
Needs the shipped SAE (backend/loupe/features/data/), `make frontend` and /usr/bin/chromium; skips otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson

import loupe
from loupe.bench.common import CHECKOUT, RESULTS, machine
from loupe.client import Client
from loupe.errors import LoupeError
from loupe.features.attach import SHIPPED, SHIPPED_ID, attach
from loupe.server.background import serving

FRONTEND = CHECKOUT / "frontend"
PAGE_RESULTS = FRONTEND / "bench" / "features.results.json"
TARGET_MS = 300.0


def _p95(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, max(0, round(0.95 * len(xs)) - 1))]


async def _info_times(url: str, sae: str, indices: list[int]) -> list[float]:
    """Milliseconds per `features.info` request, each feature asked once (no client-side cache)."""
    out: list[float] = []
    async with Client(url) as client:
        for index in indices:
            t0 = time.perf_counter()
            reply = await client.call("features.info", sae=sae, index=index)
            out.append((time.perf_counter() - t0) * 1000)
            assert reply["index"] == index
    return out


def _build() -> str | None:
    """Build the UI (frontend/dist) before the server starts, since it serves what is there then; None if done,
    else why the browser part is skipped."""
    if shutil.which("npx") is None or not (FRONTEND / "node_modules").exists():
        return "frontend not installed (make frontend)"
    if shutil.which(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")) is None:
        return "no Chromium (make system-deps)"
    vite = ["npx", "vite", "build", "--logLevel", "warn"]
    build = subprocess.run(vite, cwd=FRONTEND, capture_output=True, text=True, timeout=600)
    return None if build.returncode == 0 else f"vite build failed: {build.stderr[-400:]}"


def _browser(http_url: str, cards: int) -> dict[str, Any]:
    """Run the Chromium part against the server at `http_url`."""
    env = {**os.environ, "LOUPE_BENCH_URL": http_url, "LOUPE_BENCH_CARDS": str(cards)}
    done = subprocess.run(
        ["npx", "playwright", "test", "--config", "bench/playwright.features.config.ts"],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    if done.returncode != 0:
        return {"skipped": f"playwright failed: {(done.stdout + done.stderr)[-600:]}"}
    data: dict[str, Any] = orjson.loads(PAGE_RESULTS.read_bytes())
    return data


def run(model: loupe.HookedModel, quick: bool = False, cards: int | None = None) -> dict[str, Any]:
    """Attach the shipped SAE to `model`, serve it, time `features.info` and the card in Chromium."""
    if not (SHIPPED / "cfg.json").exists():
        return {"name": "feature_card", "skipped": f"no shipped SAE at {SHIPPED}"}
    if SHIPPED_ID not in model.saes:
        try:
            attach(model, [], shipped=True)
        except LoupeError as exc:  # a model other than the embedded one
            return {"name": "feature_card", "skipped": exc.message}
    sae = model.saes[SHIPPED_ID]
    n = cards or (6 if quick else 24)
    indices = [int(i) for i in range(7, sae.d_sae, max(1, sae.d_sae // n))][:n]
    unbuilt = _build()
    with serving(model) as url:
        info_ms = asyncio.run(_info_times(url, sae.id, indices))
        http = url.replace("ws://", "http://").removesuffix("/ws")
        browser: dict[str, Any] = {"skipped": unbuilt} if unbuilt else _browser(http, min(n, 12))
    result: dict[str, Any] = {
        "name": "feature_card",
        "sae": sae.id,
        "d_sae": sae.d_sae,
        "features": len(indices),
        "target_ms": TARGET_MS,
        "info_median_ms": round(statistics.median(info_ms), 1),
        "info_p95_ms": round(_p95(info_ms), 1),
        "info_ms": [round(x, 1) for x in info_ms],
    }
    if "skipped" in browser:
        result["browser_skipped"] = browser["skipped"]
    else:
        result.update(
            open_median_ms=round(browser["openMedianMs"], 1),
            open_p95_ms=round(browser["openP95Ms"], 1),
            open_max_ms=round(browser["openMaxMs"], 1),
            open_ms=[round(x, 1) for x in browser["openMs"]],
            browser_info_median_ms=browser["infoMedianMs"],
            user_agent=browser["userAgent"],
        )
    return result


def report(result: dict[str, Any]) -> str:
    if "skipped" in result:
        return f"skipped: {result['skipped']}"
    lines = [
        f"features.info round trip ({result['features']} features of {result['sae']}): median "
        f"{result['info_median_ms']} ms, p95 {result['info_p95_ms']} ms"
    ]
    if "open_median_ms" in result:
        lines.append(
            f"click -> painted card in Chromium: median {result['open_median_ms']} ms, "
            f"p95 {result['open_p95_ms']} ms, max {result['open_max_ms']} ms (target <= {TARGET_MS:.0f} ms)"
        )
    else:
        lines.append(f"browser part skipped: {result['browser_skipped']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=24, help="features to open")
    parser.add_argument("--json", type=Path, default=RESULTS / "feature_card.json")
    args = parser.parse_args()
    model = loupe.load()
    result = {**run(model, cards=args.cards), "machine": machine(), "command": "python -m loupe.bench.feature_card"}
    print(report(result))
    args.json.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
