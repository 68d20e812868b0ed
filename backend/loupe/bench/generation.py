"""Generation speed: Hugging Face `generate` vs Loupe's generate, plain and steered, in tokens per second."""

from __future__ import annotations

from typing import Any

import torch

import loupe
from loupe.bench.common import interleaved, plain_hf

PROMPT = "The most important thing to remember about the ocean is"


def run(model: loupe.HookedModel, quick: bool = False) -> dict[str, Any]:
    n = 16 if quick else 48
    hf = plain_hf(model)
    tokens, mask = model.encode(PROMPT)
    vector = torch.randn(model.cfg.d_model, generator=torch.Generator().manual_seed(0))
    steer = loupe.Steer(hook=f"blocks.{model.cfg.n_layers // 3}.hook_resid_post", vector=vector, scale=2.0)

    def hf_generate() -> object:
        with torch.no_grad():
            return hf.generate(
                input_ids=tokens,
                attention_mask=mask,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=model.tokenizer.pad_token_id,
            )

    def loupe_generate(interventions: list[Any]) -> object:
        return list(model.generate(PROMPT, max_new_tokens=n, interventions=interventions, stop_at_eos=False))

    seconds = interleaved(
        {
            "hf_generate": hf_generate,
            "loupe_plain": lambda: loupe_generate([]),
            "loupe_steered": lambda: loupe_generate([steer]),
        },
        repeats=3 if quick else 7,
        warmup=1,
    )
    tok_s = {k: n / v for k, v in seconds.items()}
    return {
        "name": "generation",
        "new_tokens": n,
        "tokens_per_second": tok_s,
        "ratio": {k: v / tok_s["hf_generate"] for k, v in tok_s.items()},
        "target": {"loupe_steered": 0.9},
    }


def report(result: dict[str, Any]) -> str:
    t, r = result["tokens_per_second"], result["ratio"]
    return "\n".join(f"{k:14} {t[k]:7.1f} tok/s  {r[k]:.3f}x HF generate" for k in t)


if __name__ == "__main__":
    print(report(run(loupe.load())))
