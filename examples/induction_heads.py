"""Find the embedded model's induction circuit: head scores, K-composition from previous-token heads, OV copying.

Run: .venv/bin/python examples/induction_heads.py   (about half a minute on 2 CPU cores)
Scores use 4 sequences of 50 random tokens repeated twice (seed 0), after the tokenizer's BOS token.
"""

from __future__ import annotations

import loupe
from loupe.analysis import composition_scores, head_scores, qk_ov


def main() -> None:
    model = loupe.load()
    scores = {kind: head_scores(model, kind) for kind in ("induction", "previous_token", "duplicate_token")}
    for kind, s in scores.items():
        print(f"{kind:16s} " + ", ".join(f"{name} {v:.2f}" for name, v in s.top(6)))

    comp = composition_scores(model)
    induction = [name for name, v in scores["induction"].top(6) if v > 0.4]
    previous = [name for name, v in scores["previous_token"].top(6) if v > 0.4]

    def lh(name: str) -> tuple[int, int]:
        layer, head = name[1:].split("H")
        return int(layer), int(head)

    print(
        "\nK-composition (previous-token head -> induction head); the median over all earlier->later pairs is "
        f"{float(comp.k[comp.k > 0].median()):.3f}"
    )
    for ind in induction:
        l2, h2 = lh(ind)
        row = [(p, float(comp.k[(*lh(p), l2, h2)])) for p in previous if lh(p)[0] < l2]
        best = comp.k[:, :, l2, h2].flatten().argsort(descending=True)[:3].tolist()
        top = ", ".join(f"L{i // 9}H{i % 9} {float(comp.k[i // 9, i % 9, l2, h2]):.3f}" for i in best)
        print(f"  {ind}: " + ", ".join(f"{p} {v:.3f}" for p, v in row) + f"   (strongest writers: {top})")

    print("\nOV copying score (sum of eigenvalues / sum of |eigenvalues|, +1 = copies its source token):")
    print(f"  (for comparison, L23H3: {qk_ov(model, 23, 3).copying_score:+.2f}; random matrices: about 0)")
    for ind in induction:
        c = qk_ov(model, *lh(ind))
        print(
            f"  {ind}: {c.copying_score:+.2f}   own token among the 5 it raises most: {c.ov_self_top5:.0%} of "
            f"{len(c.tokens)} word tokens"
        )


if __name__ == "__main__":
    main()
