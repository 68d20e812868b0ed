"""The headline ratios of a benchmark run, each with its design target, pulled from the entries' results."""

from __future__ import annotations

from typing import Any

Headline = dict[str, Any]


def _row(entry: dict[str, Any], tokens: int) -> dict[str, Any]:
    return next(r for r in entry["rows"] if r["tokens"] == tokens)


def headlines(entries: dict[str, dict[str, Any]]) -> list[Headline]:
    """One line per headline figure: value, target and whether lower or higher is better."""
    out: list[Headline] = []

    def add(name: str, value: float, target: float, better: str) -> None:
        met = value <= target if better == "lower" else value >= target
        out.append({"name": name, "value": round(value, 4), "target": target, "better": better, "met": met})

    if "capture_overhead" in entries:
        for n in (16, 64, 256):
            add(
                f"capture all / HF forward (T={n})",
                _row(entries["capture_overhead"], n)["ratio"]["loupe_all"],
                1.05,
                "lower",
            )
    if "capture_overhead" in entries:
        row = _row(entries["capture_overhead"], 64)["ratio"]
        for tool in ("transformer_lens_all", "nnsight_resid"):
            if tool in row:
                add(f"{tool} / HF forward (T=64, for reference)", row[tool], float("inf"), "lower")
    if "bench_wire" in entries:
        wire = entries["bench_wire"]
        add("first layer frame / full run (T=64)", wire["first_layer"]["fraction_of_run"], 0.15, "lower")
        add("default UI run / plain HF forward (T=64)", wire["ui_default"]["ratio_to_hf"]["default"], 1.5, "lower")
        add("msgpack f16 bytes / JSON bytes (worst)", wire["worst_bytes_ratio"], 0.3, "lower")
    if "patch_sweep" in entries:
        best = max(r["speedup"] for r in entries["patch_sweep"]["batched"].values())
        add("head patching sweep speed-up vs one forward per patch", best, 5.0, "higher")
        if "session" in entries["patch_sweep"]:
            session = entries["patch_sweep"]["session"]["speedup"]
            add("heads sweep from a server session vs one forward per patch", session, 6.0, "higher")
    if "sessions" in entries:
        add("8 UI-default sessions throughput / serial", entries["sessions"]["speedup"], 2.5, "higher")
    if "generation" in entries:
        add("steered generate tok/s / HF generate", entries["generation"]["ratio"]["loupe_steered"], 0.9, "higher")
    if "sae_overhead" in entries:
        add("one SAE attached / same run (T=64)", _row(entries["sae_overhead"], 64)["ratio"]["features"], 1.10, "lower")
    if "sae_quality" in entries and "ce" in entries["sae_quality"]:
        quality = entries["sae_quality"]
        add("shipped SAE: CE-loss recovered (held-out)", quality["ce"]["ce_loss_recovered"], 0.90, "higher")
        add("shipped SAE: explained variance (held-out)", quality["explained_variance"], 0.80, "higher")
        add("shipped SAE: dead latent fraction (held-out)", quality["dead_fraction"], 0.05, "lower")
    if "feature_card" in entries and "open_median_ms" in entries["feature_card"]:
        card_ms = entries["feature_card"]["open_median_ms"]
        add("browser: click -> painted feature card, median (ms)", card_ms, 300.0, "lower")
    if "browser" in entries and "frame_ms" in entries["browser"]:
        add("browser: draw a 12x12 attention grid frame (ms)", entries["browser"]["frame_ms"], 16.0, "lower")
    return out
