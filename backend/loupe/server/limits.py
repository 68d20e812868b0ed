"""Server limits with safe defaults (documented in proto/README.md, section 8).

Every limit can be changed by the operator: `LOUPE_LIMIT_<NAME>=VALUE` environment variables
(e.g. `LOUPE_LIMIT_MAX_SESSIONS=32`) or `loupe serve --limit NAME=VALUE`; see `Limits.configured`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from loupe.codec import UnpackLimits
from loupe.errors import LoupeError

ENV_PREFIX = "LOUPE_LIMIT_"


@dataclass(frozen=True)
class Limits:
    """Every size a client can make the server spend; a request over one gets an `error`."""

    max_sessions: int = 64  # open WebSocket sessions per server; one more gets error busy + close 1013
    hello_timeout_s: int = 30  # a connection that sends no accepted hello within this is closed (1008)
    max_message_bytes: int = 1 << 20  # one incoming frame; bigger gets error too_large
    transport_max_bytes: int = 8 << 20  # the WebSocket layer closes the connection above this
    max_str_len: int = 256 << 10
    max_array_len: int = 65536
    max_map_len: int = 1024
    max_prompt_tokens: int = 512
    max_capture_bytes: int = 64 << 20  # captured tensors of one run, in the requested dtype
    max_top_k: int = 100
    max_new_tokens: int = 256
    max_queued_jobs: int = 4  # per session, running + queued
    max_saved_runs: int = 16
    max_vectors: int = 64
    max_interventions: int = 256
    max_abs_value: int = 10_000  # |x| of every number of an intervention or uploaded vector (finite, too)
    max_contrast_prompts: int = 64  # per side of vectors.from_prompts
    max_job_tokens: int = 16384  # prompt tokens of one vectors.from_prompts, both sides together
    piece_tokens: int = 32  # vectors.from_prompts runs as forward passes of this many tokens, taking turns
    max_batch_tokens: int = 512  # tokens in one forward pass of an analyze patch sweep (rows x prompt)
    max_outbound_frames: int = 1024  # per session; a client that falls this far behind is dropped (1008)
    max_outbound_bytes: int = 64 << 20
    slow_client_timeout_s: int = 20  # one frame waiting this long for the socket drops the client (1008)
    last_run_pattern_bytes: int = 256 << 20  # patterns kept for attention.head (float16)

    def unpack(self) -> UnpackLimits:
        return UnpackLimits(
            max_message_bytes=self.max_message_bytes,
            max_bin_len=self.max_message_bytes,
            max_str_len=self.max_str_len,
            max_array_len=self.max_array_len,
            max_map_len=self.max_map_len,
        )

    def public(self) -> dict[str, Any]:
        """Every limit, as sent in `welcome.limits` and GET /api/model."""
        return asdict(self)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def configured(cls, environ: Mapping[str, str] | None = None, overrides: Iterable[str] = ()) -> Limits:
        """The defaults, changed by `LOUPE_LIMIT_<NAME>` variables of `environ`, then by `NAME=VALUE` overrides.

        Values are positive integers (`1_000_000` is accepted); an unknown name or a bad value is a
        LoupeError (`bad_limit`) naming it, so a typo stops the server at start instead of being ignored.
        """
        known = cls.names()
        values: dict[str, int] = {}
        pairs: list[tuple[str, str, str]] = []
        for key, raw in (environ or {}).items():
            if key.startswith(ENV_PREFIX):
                pairs.append((key[len(ENV_PREFIX) :].lower(), raw, key))
        for item in overrides:
            name, sep, raw = item.partition("=")
            if not sep:
                raise LoupeError("bad_limit", f"--limit {item!r}: expected NAME=VALUE")
            pairs.append((name.strip().lower().replace("-", "_"), raw, f"--limit {name}"))
        for name, raw, where in pairs:
            if name not in known:
                raise LoupeError("bad_limit", f"{where}: unknown limit {name!r}; known: {', '.join(known)}")
            try:
                value = int(raw.strip())
            except ValueError:
                raise LoupeError("bad_limit", f"{where}: expected a positive integer, got {raw!r}") from None
            if value < 1:
                raise LoupeError("bad_limit", f"{where}: expected a positive integer, got {raw!r}")
            values[name] = value
        return cls(**values)

    def describe(self) -> str:
        """One `name=value` per limit, for `loupe serve --help` and logs."""
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items())
