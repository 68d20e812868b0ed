"""A fair lock for the model: when several sessions want a forward pass, they take turns round-robin.

A plain lock lets whoever grabs it first go again, so one session cutting a long job into many forward
passes could still keep the model for the whole job. `Turns` queues waiters per key (a session id, set
for the current thread with `as_key`) and hands the lock to the key that has waited longest since its
last turn, so another session's short run waits for at most one piece of a long job.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import OrderedDict, deque
from collections.abc import Hashable, Iterator
from types import TracebackType

_local = threading.local()


@contextlib.contextmanager
def as_key(key: Hashable) -> Iterator[None]:
    """Forward passes of this thread take their turns as `key` (by default the thread's name)."""
    old = getattr(_local, "key", None)
    _local.key = key
    try:
        yield
    finally:
        _local.key = old


def current_key() -> Hashable:
    key = getattr(_local, "key", None)
    return key if key is not None else threading.current_thread().name


class Turns:
    """A reentrant lock granted round-robin across keys; use as `with turns:` (the thread's key)."""

    def __init__(self) -> None:
        self._cv = threading.Condition()
        self._owner: int | None = None
        self._depth = 0
        self._waiting: OrderedDict[Hashable, deque[int]] = OrderedDict()  # key -> tickets, oldest first
        self._tickets = itertools.count()
        self._granted: int | None = None
        self.turns = 0  # turns handed over to a waiter (for tests and health)

    def acquire(self, key: Hashable | None = None) -> None:
        me = threading.get_ident()
        with self._cv:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and self._granted is None and not self._waiting:
                self._owner, self._depth = me, 1
                return
            ticket = next(self._tickets)
            self._waiting.setdefault(current_key() if key is None else key, deque()).append(ticket)
            while self._granted != ticket:
                self._cv.wait()
            self._granted = None
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._cv:
            if self._owner != threading.get_ident():
                raise RuntimeError("release of a turn this thread does not hold")
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            if self._waiting:
                key, tickets = next(iter(self._waiting.items()))
                self._granted = tickets.popleft()
                del self._waiting[key]
                if tickets:  # this key's other waiters queue again behind every other key
                    self._waiting[key] = tickets
                self.turns += 1
                self._cv.notify_all()

    def __enter__(self) -> Turns:
        self.acquire()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
