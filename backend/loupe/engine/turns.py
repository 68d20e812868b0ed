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

from loupe.errors import Cancelled

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

    def acquire(self, key: Hashable | None = None, cancel: threading.Event | None = None) -> None:
        """Wait for this thread's turn; with `cancel`, give up (Cancelled) as soon as it is set: a cancelled
        job must not wait for, nor take, a turn (it would hold its session's memory until then)."""
        me = threading.get_ident()
        with self._cv:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and self._granted is None and not self._waiting:
                self._owner, self._depth = me, 1
                return
            ticket, mine = next(self._tickets), current_key() if key is None else key
            self._waiting.setdefault(mine, deque()).append(ticket)
            while self._granted != ticket:
                if cancel is not None and cancel.is_set():
                    self._waiting[mine].remove(ticket)
                    if not self._waiting[mine]:
                        del self._waiting[mine]
                    raise Cancelled("cancelled while waiting for its turn of the model")
                self._cv.wait(None if cancel is None else 0.05)
            self._granted = None
            self._owner, self._depth = me, 1

    @contextlib.contextmanager
    def turn(self, cancel: threading.Event | None = None) -> Iterator[None]:
        """`with turns.turn(cancel):` holds a turn; Cancelled instead if `cancel` is set while waiting."""
        self.acquire(cancel=cancel)
        try:
            yield
        finally:
            self.release()

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
