"""Two features of the shipped SAE (res10: SmolLM2-135M, blocks.10.hook_resid_post) and one steer.

Prints each feature's density, top held-out contexts (the token of maximal activation in [brackets]) and the
tokens its decoder direction promotes through the unembedding; then greedy generations with and without adding
the "LORD" feature at every position. Run: PYTHONPATH=backend python examples/sae_walkthrough.py
"""

from __future__ import annotations

import loupe
from loupe.features.attach import SHIPPED, SHIPPED_ID
from loupe.features.dashboard import Dashboard
from loupe.features.info import feature_info
from loupe.features.sae import SAE

LORD, PYERR = 2855, 515
PROMPT = "My favourite thing to do on a sunny afternoon is"
BIBLICAL = ("LORD", "Lord", "God", "thee", "thou", "unto", "shall")


def show(model: loupe.HookedModel, sae: SAE, dash: Dashboard, index: int) -> None:
    info = feature_info(model, sae, dash, index, k=8)
    print(f"\nfeature {index}: density {info['density']:.4f}, max {info['max']:.1f}")
    for c in info["contexts"][:6]:
        peak = max(range(len(c["values"])), key=lambda i: c["values"][i])
        text = "".join(f"[{t}]" if i == peak else t for i, t in enumerate(c["tokens"]))
        print(f"  {c['max']:5.1f}  {text!r}")
    print("  promotes:", [p["token"] for p in info["promoted"]])


def generate(model: loupe.HookedModel, interventions: list) -> str:
    steps = model.generate(PROMPT, max_new_tokens=40, interventions=interventions)
    return "".join(s.texts[0] for s in steps)


def main() -> None:
    model = loupe.load()
    sae = model.add_sae(SAE.load(SHIPPED, SHIPPED_ID))
    dash = Dashboard.load(SHIPPED, sae.d_sae)
    assert dash is not None
    show(model, sae, dash, LORD)
    show(model, sae, dash, PYERR)
    for value in (0.0, 20.0, 60.0):
        edit = [loupe.Feature(sae=sae, index=LORD, mode="add", value=value)] if value else []
        text = generate(model, edit)
        count = sum(text.count(w) for w in BIBLICAL)
        print(f"\nadd {value:g} x feature {LORD} ({count} biblical words): {PROMPT}{text!r}")


if __name__ == "__main__":
    main()
