"""The architecture-independent description of a loaded model."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of a transformer, named as in TransformerLens."""

    name: str
    arch: str
    n_layers: int
    n_heads: int
    n_kv_heads: int
    d_model: int
    d_head: int
    d_mlp: int
    d_vocab: int
    n_ctx: int
    parallel_attn_mlp: bool = False
    rotary: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def dim(self, symbol: str) -> int | None:
        """The size of a symbolic dimension such as "d_model" or "head"; None for batch/pos."""
        return {
            "d_model": self.d_model,
            "d_head": self.d_head,
            "d_mlp": self.d_mlp,
            "d_vocab": self.d_vocab,
            "head": self.n_heads,
            "kv_head": self.n_kv_heads,
        }.get(symbol)
