"""The replicas a balancer may send new sessions to: announced by heartbeats, dropped when lost."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Replica:
    """One live replica: its name, model, WebSocket URL and process, and the sessions sent to it."""

    replica: str
    model: str
    order: int  # the model's place in the operator's list: the first one is the default
    url: str  # ws://HOST:PORT/ws
    pid: int
    node: str
    seen: float = field(default_factory=time.monotonic)
    sessions: int = 0  # sessions this balancer holds open on it

    @property
    def http(self) -> str:
        return self.url.replace("ws://", "http://", 1).removesuffix("/ws")


class Registry:
    """Thread-safe: heartbeats arrive on Ray's thread, sessions open and close on the balancer's loop."""

    def __init__(self, ttl_s: float = 30.0) -> None:
        self.ttl_s = ttl_s  # a replica silent for this long gets no new sessions
        self._replicas: dict[str, Replica] = {}
        self._lock = threading.Lock()

    def beat(self, replica: str, model: str, order: int, url: str, pid: int, node: str) -> None:
        """A heartbeat: add the replica, or mark it seen now."""
        with self._lock:
            known = self._replicas.get(replica)
            if known is None or known.url != url:
                self._replicas[replica] = Replica(replica, model, order, url, pid, node)
            else:
                known.seen = time.monotonic()

    def drop(self, replica: str) -> None:
        """The replica was lost: no new sessions go to it (a heartbeat brings it back if it lives)."""
        with self._lock:
            self._replicas.pop(replica, None)

    def live(self, model: str | None = None) -> list[Replica]:
        """Replicas heard from within `ttl_s` (of `model`, when given), by name."""
        now = time.monotonic()
        with self._lock:
            out = [r for r in self._replicas.values() if now - r.seen <= self.ttl_s]
        return sorted((r for r in out if model is None or r.model == model), key=lambda r: r.replica)

    def models(self) -> list[str]:
        """The models served, in the operator's order."""
        return list(dict.fromkeys(r.model for r in sorted(self.live(), key=lambda r: r.order)))

    def choose(self, model: str | None) -> list[Replica]:
        """Candidates for a new session, fewest open sessions first (`model` None: the first model)."""
        if model is None:
            served = self.models()
            model = served[0] if served else None
        return sorted(self.live(model), key=lambda r: r.sessions) if model is not None else []

    def opened(self, r: Replica, delta: int) -> None:
        with self._lock:
            r.sessions += delta
