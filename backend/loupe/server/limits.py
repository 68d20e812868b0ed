"""Server limits with safe defaults (documented in proto/README.md, section 8)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from loupe.codec import UnpackLimits


@dataclass(frozen=True)
class Limits:
    """Every size a client can make the server spend; a request over one gets an `error`."""

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
    max_contrast_prompts: int = 64  # per side of vectors.from_prompts
    max_outbound_frames: int = 1024  # per session; a client that falls this far behind is dropped
    max_outbound_bytes: int = 256 << 20
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
        """The limits a client needs to know (sent in `welcome`)."""
        keys = (
            "max_message_bytes",
            "max_prompt_tokens",
            "max_capture_bytes",
            "max_new_tokens",
            "max_queued_jobs",
            "max_top_k",
        )
        d = asdict(self)
        return {k: d[k] for k in keys}
