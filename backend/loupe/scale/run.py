"""Start Loupe on Ray Serve and wait: `loupe serve --ray`, or `serve_ray(spec)` from Python."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import ray
from ray import serve

from loupe.errors import LoupeError
from loupe.scale.app import APP_NAME, build
from loupe.scale.spec import ScaleSpec


def front_health(spec: ScaleSpec) -> dict[str, Any] | None:
    """The balancer's /api/health, or None while it does not answer."""
    shown = "127.0.0.1" if spec.host in ("0.0.0.0", "::") else spec.host
    try:
        with urllib.request.urlopen(f"http://{shown}:{spec.port}/api/health", timeout=10) as answer:
            return dict(json.loads(answer.read()))
    except (OSError, ValueError):
        return None


def wait_ready(spec: ScaleSpec, timeout_s: float) -> dict[str, Any]:
    """Until every model has `spec.replicas` replicas answering through the balancer."""
    wanted = len(spec.models) * (spec.autoscale[0] if spec.autoscale else spec.replicas)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        health = front_health(spec)
        if health is not None and sum(r.get("status") == "ok" for r in health["replicas"]) >= wanted:
            return health
        time.sleep(0.5)
    raise LoupeError("not_ready", f"{wanted} replicas did not come up within {timeout_s:.0f} s")


def start_ray(address: str | None, num_cpus: int | None, tries: int = 3) -> None:
    """Connect to Ray at `address`, or start a local loopback-only one. On a loaded machine a local start can
    time out (Ray waits a fixed 30 s for its raylet to register): shut the half-started one down and retry."""
    local: dict[str, Any] = {"num_cpus": num_cpus, "_node_ip_address": "127.0.0.1"} if address is None else {}
    for attempt in range(1, tries + 1):
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, **local)
            return
        except Exception as exc:
            ray.shutdown()
            if attempt == tries or "timed out during startup" not in str(exc):
                raise
            print(f"Ray did not start in time ({exc}); trying again", file=sys.stderr)


@contextlib.contextmanager
def deployed(
    spec: ScaleSpec,
    address: str | None = None,
    num_cpus: int | None = None,
    timeout_s: float = 600,
    name: str = APP_NAME,
) -> Iterator[dict[str, Any]]:
    """Ray (a local cluster when `address` is None, loopback only; kept when already initialized), the Loupe
    app `name`, ready; all stopped on exit. Yields the balancer's first healthy /api/health."""
    started_ray = not ray.is_initialized()
    if started_ray:
        start_ray(address, num_cpus)
    try:
        serve.start(proxy_location="Disabled")
        serve.run(build(spec), name=name, route_prefix=None)
        yield wait_ready(spec, timeout_s)
    finally:
        with contextlib.suppress(Exception):
            serve.delete(name)
        if started_ray:
            with contextlib.suppress(Exception):
                serve.shutdown()
            ray.shutdown()


def serve_ray(spec: ScaleSpec, address: str | None) -> int:
    """Deploy, print the address, serve until Ctrl-C or SIGTERM, then take the app (and a local Ray) down."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    where = address or "a local Ray cluster"
    n = spec.autoscale[0] if spec.autoscale else spec.replicas
    print(f"starting {n} replica(s) of {len(spec.models)} model(s) on {where} ...", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt), deployed(spec, address) as health:
        shown = "127.0.0.1" if spec.host in ("0.0.0.0", "::") else spec.host
        url = f"http://{shown}:{spec.port}/" + (f"?token={spec.token}" if spec.token else "")
        names = ", ".join(r["replica"] for r in health["replicas"])
        print(f"Loupe on Ray Serve: {', '.join(health['models'])} at {url}  (replicas: {names})", file=sys.stderr)
        while True:
            time.sleep(3600)
    return 0
