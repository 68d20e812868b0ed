"""An SAE's cfg.json as SAELens writes it (the 6.x layout; older SAELens layouts are read too)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loupe.errors import LoupeError

ARCHITECTURES = ("standard", "topk", "jumprelu")
DTYPES = ("float32", "float16", "bfloat16", "float64")
# SAELens decides between its 6.x and older cfg.json layouts on this version; Loupe writes the 6.x layout.
LAYOUT_VERSION = "6.0.0"


@dataclass(frozen=True)
class SAEConfig:
    """What Loupe needs from cfg.json; `metadata` keeps the rest of SAELens's metadata for saving."""

    architecture: str
    d_in: int
    d_sae: int
    hook: str
    k: int | None = None  # topk: how many latents fire per token
    apply_b_dec_to_input: bool = True  # subtract b_dec from the input before encoding
    rescale_acts_by_decoder_norm: bool = False  # topk: select and decode as if decoder rows had unit norm
    dtype: str = "float32"  # the stored weights' dtype
    model_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise _bad(f"architecture must be one of {list(ARCHITECTURES)}, got {self.architecture!r}")
        for name in ("d_in", "d_sae"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise _bad(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(self.hook, str) or not self.hook:
            raise _bad("names no hook point (metadata.hook_name)")
        k_ok = isinstance(self.k, int) and not isinstance(self.k, bool) and 1 <= self.k <= self.d_sae
        if self.architecture == "topk" and not k_ok:
            raise _bad(f"a topk SAE needs k in 1..d_sae ({self.d_sae}), got {self.k!r}")
        if self.dtype not in DTYPES:
            raise _bad(f"dtype must be one of {list(DTYPES)}, got {self.dtype!r}")

    @classmethod
    def from_json(cls, cfg: Any) -> SAEConfig:
        """Read a parsed cfg.json; raises LoupeError(bad_input) naming what is missing or unsupported."""
        if not isinstance(cfg, dict):
            raise _bad(f"must hold a JSON object, got {type(cfg).__name__}")
        meta = cfg.get("metadata")
        meta = dict(meta) if isinstance(meta, dict) else {}
        hook = meta.get("hook_name") or cfg.get("hook_name") or cfg.get("hook_point")
        arch = cfg.get("architecture")
        k = cfg.get("k")
        if arch is None:  # SAELens before 6.0: the activation function says which
            act = cfg.get("activation_fn") or cfg.get("activation_fn_str") or "relu"
            arch = "topk" if act == "topk" else "standard"
            if arch == "topk":
                k = (cfg.get("activation_fn_kwargs") or {}).get("k")
        for key, allowed in (("normalize_activations", "none"), ("reshape_activations", "none")):
            value = cfg.get(key) or "none"
            if value != allowed:
                raise _bad(f"{key} {value!r} is not supported (only {allowed!r})")
        if cfg.get("hook_head_index") is not None or meta.get("hook_head_index") is not None:
            raise _bad("SAEs on a single head (hook_head_index) are not supported")
        for key in ("hook_name", "model_name"):
            if key not in meta and cfg.get(key) is not None:
                meta[key] = cfg[key]
        return cls(
            architecture=arch,
            d_in=cfg.get("d_in"),  # type: ignore[arg-type]  # checked in __post_init__
            d_sae=cfg.get("d_sae"),  # type: ignore[arg-type]
            hook=str(hook or ""),
            k=k,
            apply_b_dec_to_input=bool(cfg.get("apply_b_dec_to_input", True)),
            rescale_acts_by_decoder_norm=bool(cfg.get("rescale_acts_by_decoder_norm", False)),
            dtype=str(cfg.get("dtype") or "float32"),
            model_name=meta.get("model_name"),
            metadata=meta,
        )

    def to_json(self, dtype: str | None = None) -> dict[str, Any]:
        """cfg.json in SAELens's 6.x layout (weights stored as `dtype`, default this config's)."""
        meta = {"sae_lens_version": LAYOUT_VERSION, "sae_lens_training_version": LAYOUT_VERSION, **self.metadata}
        meta["hook_name"] = self.hook
        if self.model_name is not None:
            meta["model_name"] = self.model_name
        out: dict[str, Any] = {
            "architecture": self.architecture,
            "d_in": self.d_in,
            "d_sae": self.d_sae,
            "dtype": dtype or self.dtype,
            "device": "cpu",
            "apply_b_dec_to_input": self.apply_b_dec_to_input,
            "normalize_activations": "none",
            "reshape_activations": "none",
            "metadata": meta,
        }
        if self.architecture == "topk":
            out["k"] = self.k
            out["rescale_acts_by_decoder_norm"] = self.rescale_acts_by_decoder_norm
        return out


def _bad(message: str) -> LoupeError:
    return LoupeError("bad_input", f"SAE cfg.json: {message}")
