"""The two Ray Serve deployments: LoupeReplica (one model, Loupe's own ASGI app on its own port) and
LoupeFront (the balancer). Replicas announce themselves to the front with a heartbeat every second."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
import urllib.request
from typing import Any

import uvicorn
from ray import serve

from loupe.engine.allocator import keep_freed_memory
from loupe.engine.compute import serving_compute_thread
from loupe.engine.loading import load
from loupe.features.attach import attach
from loupe.scale.balancer import create_balancer
from loupe.scale.registry import Registry
from loupe.scale.spec import ScaleSpec
from loupe.server.background import serving, websocket_options

log = logging.getLogger("loupe.scale")
HEARTBEAT_S = 1.0
FRONT = "LoupeFront"


class LoupeReplica:
    """One replica: loads its model and serves it with `loupe serve`'s app on a free port of its node."""

    def __init__(self, spec: ScaleSpec, order: int) -> None:
        context = serve.get_replica_context()
        self.name = context.replica_id.unique_id
        keep_freed_memory()
        compute = serving_compute_thread()  # as `loupe serve` does: load there, run passes there (engine/compute.py)
        model = compute.call(lambda: load(spec.models[order], device=spec.device))
        model.compute = compute
        compute.call(lambda: attach(model, spec.saes, shipped=spec.models[order] is None and spec.shipped_sae))
        self._stack = contextlib.ExitStack()
        origins = (spec.allowed_origins or "").split(",")
        url = self._stack.enter_context(serving(model, spec.limits, spec.replica_host, spec.token, origins, self.name))
        self.beat: dict[str, Any] = {
            "replica": self.name,
            "model": model.cfg.name,
            "order": order,
            "url": url,
            "pid": os.getpid(),
            "node": socket.gethostname(),
        }
        self.front = serve.get_deployment_handle(FRONT, context.replica_id.deployment_id.app_name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._heartbeat, daemon=True, name="loupe-heartbeat")
        self._thread.start()

    def _heartbeat(self) -> None:
        while not self._stop.is_set():
            try:
                self.front.register.remote(self.beat).result(timeout_s=30)
            except Exception as exc:  # the front restarting: keep beating, it will hear us
                log.warning("replica %s: heartbeat to the front failed: %s", self.name, exc)
            self._stop.wait(HEARTBEAT_S)

    def record_autoscaling_stats(self) -> dict[str, float]:
        """Open sessions, for the session-based autoscaling policy (loupe.scale.autoscale)."""
        http = self.beat["url"].replace("ws://", "http://").removesuffix("/ws")
        with urllib.request.urlopen(f"{http}/api/health", timeout=5) as answer:
            return {"sessions": float(json.loads(answer.read())["sessions"])}

    def check_health(self) -> None:
        """Serve restarts a replica whose server thread or heartbeat has stopped."""
        if not self._thread.is_alive():
            raise RuntimeError("the heartbeat thread stopped")

    def __del__(self) -> None:
        self._stop.set()
        self._stack.close()


class LoupeFront:
    """The balancer: serves the UI and /api/* and passes each WebSocket session to one replica."""

    def __init__(self, spec: ScaleSpec, *models: Any) -> None:
        self.models = models  # the model deployments' handles: binding them makes them part of this app
        self.registry = Registry()
        origins, hosts = (spec.allowed_origins or "").split(","), (spec.allowed_hosts or "").split(",")
        app = create_balancer(
            self.registry, spec.limits.transport_max_bytes, origins, bind=spec.host, allowed_hosts=hosts
        )
        config = uvicorn.Config(
            app, host=spec.host, port=spec.port, **websocket_options(spec.limits.transport_max_bytes)
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True, name="loupe-front")
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:  # a taken port fails the deployment with this message, not a restart loop
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the Loupe balancer could not listen on {spec.host}:{spec.port}")
            time.sleep(0.05)

    def register(self, beat: dict[str, Any]) -> None:
        self.registry.beat(**beat)

    def replicas(self) -> list[dict[str, Any]]:
        """The live replicas (name, model, url, pid, node, sessions held)."""
        return [
            {k: getattr(r, k) for k in ("replica", "model", "url", "pid", "node", "sessions")}
            for r in self.registry.live()
        ]

    def check_health(self) -> None:
        if not self._thread.is_alive():
            raise RuntimeError("the balancer's server stopped (is its port taken?)")

    def __del__(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
