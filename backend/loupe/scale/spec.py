"""What a scaled-out Loupe serves: the same settings as `loupe serve`, plus models, replicas and resources."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from loupe.errors import LoupeError
from loupe.server.limits import Limits
from loupe.server.origins import is_loopback


@dataclass(frozen=True)
class ScaleSpec:
    """One balancer at host:port; `replicas` replicas of each model (None: the embedded model)."""

    models: tuple[str | None, ...] = (None,)
    replicas: int = 1
    host: str = "127.0.0.1"
    port: int = 8000
    device: str = "cpu"
    token: str | None = None
    allowed_origins: str | None = None
    allowed_hosts: str | None = None  # Host names the balancer answers to besides loopback ones (a proxy)
    limits: Limits = field(default_factory=Limits)
    num_cpus: float = 1.0  # Ray CPUs each replica reserves
    num_gpus: float = 0.0  # Ray GPUs each replica reserves (1 with --device cuda)
    autoscale: tuple[int, int] | None = None  # (min, max) replicas, scaled on open sessions
    target_sessions: int = 8  # sessions per replica the autoscaler aims for
    saes: tuple[str, ...] = ()  # `--sae PATH[:ID]` specs every replica attaches (one model only)
    shipped_sae: bool = True  # replicas of the embedded model attach its shipped SAE (`--no-sae`: False)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise LoupeError("bad_config", f"replicas: expected at least 1, got {self.replicas}")
        if not self.models:
            raise LoupeError("bad_config", "models: expected at least one model")
        if self.autoscale is not None and not 1 <= self.autoscale[0] <= self.autoscale[1]:
            raise LoupeError("bad_config", f"autoscale: expected 1 <= min <= max, got {self.autoscale}")
        if self.saes and len(self.models) > 1:
            raise LoupeError("bad_config", f"saes {list(self.saes)}: an SAE fits one model; serve one model with them")

    @property
    def replica_host(self) -> str:
        """Replicas listen on loopback when the balancer does (one machine), else on their node's address."""
        if is_loopback(self.host):
            return "127.0.0.1"
        import ray.util

        return str(ray.util.get_node_ip_address())

    def with_token(self) -> ScaleSpec:
        """A public bind needs a token, as for `loupe serve`: generate one when none was given."""
        if self.token is not None or is_loopback(self.host):
            return self
        return replace(self, token=secrets.token_urlsafe(16))


def from_args(args: Mapping[str, Any]) -> ScaleSpec:
    """The spec from a Serve config's `args` (deploy/serve.yaml); LOUPE_* variables fill what is missing."""
    known = {f.name for f in fields(ScaleSpec)}
    unknown = sorted(set(args) - known)
    if unknown:
        raise LoupeError("bad_config", f"unknown args {unknown}; known: {sorted(known)}")
    models = args.get("models") or [os.environ.get("LOUPE_MODEL") or None]
    autoscale = args.get("autoscale")
    spec = ScaleSpec(
        models=tuple(m or None for m in models),
        replicas=int(args.get("replicas", 1)),
        host=str(args.get("host", "0.0.0.0")),
        port=int(args.get("port", 8000)),
        device=str(args.get("device", "cpu")),
        token=args.get("token") or os.environ.get("LOUPE_TOKEN") or None,
        allowed_origins=args.get("allowed_origins") or os.environ.get("LOUPE_ALLOWED_ORIGINS") or None,
        allowed_hosts=args.get("allowed_hosts") or os.environ.get("LOUPE_ALLOWED_HOSTS") or None,
        limits=Limits.configured(os.environ, [f"{k}={v}" for k, v in (args.get("limits") or {}).items()]),
        num_cpus=float(args.get("num_cpus", 1.0)),
        num_gpus=float(args.get("num_gpus", 0.0)),
        autoscale=(int(autoscale["min"]), int(autoscale["max"])) if autoscale else None,
        target_sessions=int(args.get("target_sessions", 8)),
        saes=tuple(str(s) for s in args.get("saes") or ()),
        shipped_sae=bool(args.get("shipped_sae", True)),
    )
    return spec.with_token()
