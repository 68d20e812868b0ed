"""Autoscaling on open WebSocket sessions: Serve's own policy counts requests, and a session is not one."""

from __future__ import annotations

import math
from typing import Any

from ray.serve.config import AutoscalingContext


def sessions_policy(ctx: AutoscalingContext) -> tuple[int, dict[str, Any]]:
    """Enough replicas for `target_ongoing_requests` sessions each (read as sessions per replica),
    within min..max. Replicas report their open sessions through `record_autoscaling_stats`."""
    per_replica = (ctx.aggregated_metrics or {}).get("sessions", {})
    target = max(float(ctx.config.target_ongoing_requests), 1.0) if ctx.config is not None else 1.0
    wanted = math.ceil(sum(per_replica.values()) / target)
    low, high = ctx.capacity_adjusted_min_replicas, ctx.capacity_adjusted_max_replicas
    return min(max(wanted, low), high), ctx.policy_state
