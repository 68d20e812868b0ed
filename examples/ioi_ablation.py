"""Zero-ablate every head of the embedded model in turn on the IOI prompt; print the heads that matter most.

Run: .venv/bin/python examples/ioi_ablation.py   (about 30 s on 2 CPU cores)
"""

from __future__ import annotations

import loupe

PROMPT = "When Mary and John went to the store, John gave a drink to"


def main() -> None:
    model = loupe.load()
    mary, john = (model.tokenizer.encode(name)[0] for name in (" Mary", " John"))

    def logit_diff(res: loupe.RunResult) -> float:
        return res.logit(mary) - res.logit(john)

    base = logit_diff(model.run(PROMPT))
    print(f"logit difference Mary - John: {base:.2f}")
    effects = {}
    for layer in range(model.cfg.n_layers):
        for head in range(model.cfg.n_heads):
            ablate = loupe.Ablate(hook=f"blocks.{layer}.attn.hook_z", head=head)
            effects[(layer, head)] = logit_diff(model.run(PROMPT, interventions=[ablate])) - base
    for (layer, head), effect in sorted(effects.items(), key=lambda kv: kv[1])[:8]:
        print(f"L{layer}H{head}: {effect:+.2f}")


if __name__ == "__main__":
    main()
