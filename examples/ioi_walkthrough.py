"""Indirect object identification on the embedded model: logit difference, DLA, patching, attribution patching.

Run: .venv/bin/python examples/ioi_walkthrough.py   (one to three minutes on 2 CPU cores)
Every number is deterministic (float32 on CPU); docs/analysis.md walks through the output.
"""

from __future__ import annotations

import time

import loupe
from loupe.analysis import (
    attribution_patching,
    correlation,
    decode_resid,
    direct_logit_attribution,
    logit_diff,
    logit_lens,
    patch_sweep,
    qk_ov,
)

CLEAN = "When Mary and John went to the store, John gave a drink to"  # answer: Mary (the indirect object)
CORRUPT = "When Mary and John went to the store, Mary gave a drink to"  # same length; the answer flips to John


def fmt(items: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name} {value:+.2f}" for name, value in items)


def main() -> None:
    model = loupe.load()
    metric = logit_diff(model, " Mary", " John")
    clean, corrupt = model.run(CLEAN), model.run(CORRUPT)
    print(f"tokens: {clean.str_tokens[0]}")
    for name, res in (("clean", clean), ("corrupt", corrupt)):
        top = ", ".join(f"{model.tokenizer.decode([t])!r} {p:.2f}" for t, p in res.top_k(3))
        print(f"{name:8s} logit diff Mary - John = {float(metric(res.logits)[0]):+.2f}   top: {top}")

    lens = logit_lens(model, CLEAN, k=1, target=" Mary")
    first = next(r.label for r in lens.rows if lens.top_str[r.index][-1][0] == " Mary")
    resid_run = model.run(CLEAN, capture="blocks.*.hook_resid_post")
    mary, john = model.tokenizer.encode(" Mary")[0], model.tokenizer.encode(" John")[0]
    print(f"logit lens at the last position: ' Mary' first on top at {first}; by layer, its rank and Mary - John:")
    cells = []
    for layer in (10, 15, 18, 20, 21, 22, 23, 24, 26, 28, 29):
        logits = decode_resid(model, resid_run.cache[f"blocks.{layer}.hook_resid_post"][0, -1])
        rank = int((logits > logits[mary]).sum())
        cells.append(f"L{layer} #{rank} {float(logits[mary] - logits[john]):+.1f}")
    print("   " + "  ".join(cells))

    dla = direct_logit_attribution(model, CLEAN, " Mary", " John")
    print(f"\nDLA (frozen final-norm scale), sum {dla.total:+.2f} vs actual {dla.actual:+.2f}")
    print("  top components: " + fmt(dla.top(10)))
    heads = [(f"L{i // 9}H{i % 9}", float(v)) for i, v in enumerate(dla.heads.flatten())]
    print("  top heads:      " + fmt(sorted(heads, key=lambda kv: -abs(kv[1]))[:8]))

    start = time.perf_counter()
    sweep = patch_sweep(model, CLEAN, CORRUPT, metric, over="heads")
    took = time.perf_counter() - start
    print(f"\nactivation patching, heads (noising: corrupt z into the clean run, all positions; {took:.0f} s)")
    print("  effect 0 = clean, 1 = corrupt; top: " + fmt(sweep.top(8)))
    layers = patch_sweep(model, CLEAN, CORRUPT, metric, over="layers")
    print("  layers (attn / mlp outputs): " + fmt(layers.top(6)))
    resid = patch_sweep(model, CLEAN, CORRUPT, metric, over="resid")
    s2, end = 9, len(clean.str_tokens[0]) - 1  # the repeated " John" and the final " to"
    print(
        f"  residual stream (hook_resid_pre), effect at pos {s2} {clean.str_tokens[0][s2]!r} / pos {end} "
        f"{clean.str_tokens[0][end]!r}:"
    )
    print(
        "   "
        + "  ".join(
            f"L{lay} {float(resid.effect[lay, s2]):.2f}/{float(resid.effect[lay, end]):.2f}"
            for lay in (0, 10, 15, 18, 20, 21, 22, 23, 24, 26, 29)
        )
    )

    for over, exact in (("heads", sweep), ("layers", layers), ("resid", resid)):
        start = time.perf_counter()
        approx = attribution_patching(model, CLEAN, CORRUPT, metric, over=over)  # type: ignore[arg-type]
        took = time.perf_counter() - start
        print(
            f"attribution patching ({over}, {took:.1f} s): correlation with patching {correlation(approx, exact):.2f};"
            f" top: {fmt(approx.top(5))}"
        )

    pattern = model.run(CLEAN, capture=["blocks.23.attn.hook_pattern"]).cache["blocks.23.attn.hook_pattern"]
    att = pattern[0, 3, -1]
    top_keys = att.topk(3)
    where = ", ".join(
        f"{clean.str_tokens[0][int(i)]!r}@{int(i)} {float(v):.2f}" for v, i in zip(*top_keys, strict=True)
    )
    circ = qk_ov(model, 23, 3)
    print(f"\nL23H3 from the last token attends to: {where}; OV copying score {circ.copying_score:+.2f}")
    john = model.tokenizer.encode(" John")[0]
    h3 = qk_ov(model, 23, 3, tokens=model.to_tokens(" Mary John")[0].cpu(), k=4)
    pairs = ", ".join(
        f"{model.tokenizer.decode([int(r)])}->{model.tokenizer.decode([int(c)])} {float(v):+.1f}"
        for r, c, v in zip(h3.ov_top.rows, h3.ov_top.cols, h3.ov_top.values, strict=True)
    )
    print(f"L23H3 OV circuit on the names (source -> logit): {pairs}  (John id {john})")


if __name__ == "__main__":
    main()
