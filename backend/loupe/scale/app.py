"""The Serve application: one LoupeReplica deployment per model and the LoupeFront balancer.

`build(spec)` for Python and `loupe serve --ray`; `app_builder(args)` for `serve deploy deploy/serve.yaml`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray import serve
from ray.serve import Application
from ray.serve.config import AutoscalingConfig, AutoscalingPolicy

from loupe.scale.deployments import FRONT, LoupeFront, LoupeReplica
from loupe.scale.spec import ScaleSpec, from_args

APP_NAME = "loupe"
HEAD = "node:__internal_head__"  # a resource only Ray's head node has


def _replica_options(spec: ScaleSpec) -> dict[str, Any]:
    actor = {"num_cpus": spec.num_cpus, "num_gpus": spec.num_gpus}
    if spec.autoscale is None:
        return {"num_replicas": spec.replicas, "ray_actor_options": actor}
    low, high = spec.autoscale
    autoscaling = AutoscalingConfig(
        min_replicas=low,
        max_replicas=high,
        initial_replicas=min(max(spec.replicas, low), high),
        target_ongoing_requests=spec.target_sessions,
        downscale_delay_s=600,  # a replica scaled away closes its sessions (1012): wait long before that
        policy=AutoscalingPolicy(policy_function="loupe.scale.autoscale:sessions_policy"),
    )
    return {"autoscaling_config": autoscaling, "ray_actor_options": actor}


def build(spec: ScaleSpec) -> Application:
    """The application graph: the front binds every model's deployment, so one `serve.run` starts them all."""
    options = _replica_options(spec)
    models = [
        serve.deployment(name=f"LoupeReplica{i}", health_check_period_s=5, **options)(LoupeReplica).bind(spec, i)
        for i in range(len(spec.models))
    ]
    on_head = {"num_cpus": 0, "resources": {HEAD: 0.001}}  # where the operator opened the balancer's port
    front = serve.deployment(name=FRONT, num_replicas=1, ray_actor_options=on_head)(LoupeFront)
    return front.bind(spec, *models)


def app_builder(args: Mapping[str, Any]) -> Application:
    """Entry point of deploy/serve.yaml (`import_path: loupe.scale.app:app_builder`)."""
    return build(from_args(args))
