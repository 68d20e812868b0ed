"""A PNG of the headline ratios: each bar is value / target, so the line at 1 is the design target."""

from __future__ import annotations

import math
from pathlib import Path

from loupe.bench.headline import Headline

CAP = 10.0


def plot(lines: list[Headline], path: Path) -> bool:
    """Draw the headline figures into `path`; False (and nothing drawn) without matplotlib (the dev extra)."""
    try:
        import matplotlib
    except ImportError:
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [h for h in lines if math.isfinite(h["target"])]
    scores = [_score(h) for h in shown]
    fig, ax = plt.subplots(figsize=(11, 0.45 * len(shown) + 1.2))
    colours = ["#2a9d8f" if h["met"] else "#e76f51" for h in shown]
    ax.barh([h["name"] for h in shown], scores, color=colours)
    ax.axvline(1.0, color="#333", linestyle="--", linewidth=1)
    ax.set_xlabel("how far past the target (value/target, or target/value where lower is better); > 1 = met")
    ax.invert_yaxis()
    for y, (h, s) in enumerate(zip(shown, scores, strict=True)):
        ax.text(s, y, f"  {h['value']:.3g}", va="center", fontsize=8)
    ax.set_title("Loupe benchmarks: headline figures against the design targets")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _score(h: Headline) -> float:
    """value / target (target / value where lower is better), so > 1 always means "better than the target";
    capped at 10 so that a value of 0 where lower is better (no dead latents) still draws."""
    value, target = float(h["value"]), float(h["target"])
    if h["better"] == "lower":
        return CAP if value <= 0 else min(CAP, target / value)
    return min(CAP, value / target)
