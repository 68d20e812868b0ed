"""Hook point names (TransformerLens conventions), their shapes, and glob matching."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

from loupe.errors import LoupeError
from loupe.models.config import ModelConfig

RESID = ("batch", "pos", "d_model")

# Per-block points in forward order, with their shapes. "head" has n_heads, "kv_head" n_kv_heads entries.
BLOCK_POINTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hook_resid_pre", RESID),  # input of the block
    ("ln1.hook_normalized", RESID),  # output of the attention's input norm
    ("attn.hook_q", ("batch", "pos", "head", "d_head")),  # queries before rotary
    ("attn.hook_k", ("batch", "pos", "kv_head", "d_head")),  # keys before rotary
    ("attn.hook_v", ("batch", "pos", "kv_head", "d_head")),
    ("attn.hook_rot_q", ("batch", "pos", "head", "d_head")),  # rotary models only
    ("attn.hook_rot_k", ("batch", "pos", "kv_head", "d_head")),  # rotary models only; whole context
    ("attn.hook_attn_scores", ("batch", "head", "query_pos", "key_pos")),  # scaled and masked
    ("attn.hook_pattern", ("batch", "head", "query_pos", "key_pos")),  # softmax of the scores
    ("attn.hook_z", ("batch", "pos", "head", "d_head")),  # pattern-weighted values, before W_O
    ("hook_attn_out", RESID),  # attention output after W_O (and its bias)
    ("hook_resid_mid", RESID),  # resid_pre + attn_out; sequential-residual models only
    ("ln2.hook_normalized", RESID),
    ("mlp.hook_pre", ("batch", "pos", "d_mlp")),  # gate pre-activation for gated MLPs
    ("mlp.hook_post", ("batch", "pos", "d_mlp")),  # input of the down projection
    ("hook_mlp_out", RESID),
    ("hook_resid_post", RESID),  # output of the block
)

# Points computed inside the attention function (see hooks/attention.py).
ATTENTION_FN_POINTS = frozenset(
    {"attn.hook_rot_q", "attn.hook_rot_k", "attn.hook_attn_scores", "attn.hook_pattern", "attn.hook_z"}
)
# Dimension holding the heads, per per-head point.
HEAD_DIM = {
    "attn.hook_q": 2,
    "attn.hook_k": 2,
    "attn.hook_v": 2,
    "attn.hook_rot_q": 2,
    "attn.hook_rot_k": 2,
    "attn.hook_z": 2,
    "attn.hook_attn_scores": 1,
    "attn.hook_pattern": 1,
}
_BLOCK_RE = re.compile(r"^blocks\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class HookPoint:
    """One place in the forward pass: `layer` is None for points outside the blocks."""

    name: str
    layer: int | None
    local: str  # the name without "blocks.{l}.", e.g. "attn.hook_pattern"
    shape: tuple[str, ...]

    @property
    def head_dim(self) -> int | None:
        return HEAD_DIM.get(self.local)

    @property
    def pos_dim(self) -> int:
        return 2 if self.shape[1] == "head" else 1


class HookPoints:
    """The ordered set of hook points of one model."""

    def __init__(self, cfg: ModelConfig, has_pos_embed: bool) -> None:
        points = [HookPoint("hook_embed", None, "hook_embed", RESID)]
        if has_pos_embed:
            points.append(HookPoint("hook_pos_embed", None, "hook_pos_embed", RESID))
        for layer in range(cfg.n_layers):
            for local, shape in BLOCK_POINTS:
                if local in ("attn.hook_rot_q", "attn.hook_rot_k") and not cfg.rotary:
                    continue
                if local == "hook_resid_mid" and cfg.parallel_attn_mlp:
                    continue
                points.append(HookPoint(f"blocks.{layer}.{local}", layer, local, shape))
        points.append(HookPoint("ln_final.hook_normalized", None, "ln_final.hook_normalized", RESID))
        points.append(HookPoint("logits", None, "logits", ("batch", "pos", "d_vocab")))
        self._points = {p.name: p for p in points}
        self.names = [p.name for p in points]

    def __contains__(self, name: object) -> bool:
        return name in self._points

    def __getitem__(self, name: str) -> HookPoint:
        point = self._points.get(name)
        if point is None:
            raise LoupeError("unknown_hook", f"unknown hook point {name!r}; {_suggest(name, self.names)}")
        return point

    def match(self, patterns: str | Iterable[str]) -> list[str]:
        """Expand names and globs (fnmatch: `*`, `?`, `[..]`) to hook names, in forward order."""
        if isinstance(patterns, str):
            patterns = [patterns]
        wanted: set[str] = set()
        for pattern in patterns:
            if not isinstance(pattern, str) or not pattern:
                raise LoupeError("unknown_hook", f"a capture pattern must be a non-empty string, got {pattern!r}")
            if pattern in self._points:
                wanted.add(pattern)
                continue
            found = fnmatch.filter(self.names, pattern)
            if not found:
                raise LoupeError(
                    "unknown_hook",
                    f"capture pattern {pattern!r} matches no hook point; {_suggest(pattern, self.names)}",
                )
            wanted.update(found)
        return [n for n in self.names if n in wanted]


def _suggest(name: str, names: list[str]) -> str:
    m = _BLOCK_RE.match(name)
    local = m.group(2) if m else name
    examples = [n for n in names if n.endswith(local)][:1] or names[:1]
    return f"expected a name such as {examples[0]!r} (see model.hook_points)"
