"""One compute thread per served model: every forward pass a server's threads ask for runs on it, and no other
server thread forks OpenMP threads.

Why (measured on the 2-core CI machine, torch's CPU wheel with GNU OpenMP): each thread that runs a
multi-threaded torch op owns an OpenMP thread team for as long as it lives. Once a process manages more OpenMP
threads than there are cores, libgomp stops spin-waiting between parallel regions and every small op pays a
futex wake-up: a plain SmolLM2 forward of 64 tokens took ~297 instead of ~205 ms while another thread that had
once run a matmul was alive, and a 30-layer model of tiny width 3.3x as long. A server runs jobs on several
threads, so its forward passes always ran that way. Here passes run on the `ComputeThread`, the one thread
that forks a team; the server's other threads call `light_thread` first and run their torch ops on one
thread. No torch API sets the thread count of one thread only (`torch.set_num_threads` also changes the
default of every thread started later), hence the OpenMP call through ctypes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import TypeVar

import torch

T = TypeVar("T")


@functools.cache
def _omp_set_num_threads() -> Callable[[int], object] | None:
    """`omp_set_num_threads` of the OpenMP runtime torch uses (its wheel bundles libgomp), or None."""
    for path in sorted(glob.glob(os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp*.so*"))):
        try:
            fn: Callable[[int], object] = ctypes.CDLL(path).omp_set_num_threads
            return fn
        except (OSError, AttributeError):
            continue
    try:  # a build linked against the system's OpenMP: its symbols are already in the process
        fn = ctypes.CDLL(None).omp_set_num_threads
        return fn
    except (OSError, AttributeError):
        return None


_THIS = threading.local()


def light_thread() -> bool:
    """Run torch ops of the calling thread on that thread alone, so it never owns an OpenMP team (other
    threads keep their setting), and hand its passes to the model's compute thread (`on_compute`); True if
    the thread count was set. Call it before the thread's first multi-threaded op; again, it changes nothing."""
    if getattr(_THIS, "light", False):  # already light: keep the count `restore_thread` goes back to
        return getattr(_THIS, "threads", None) is not None
    _THIS.light = True
    if "OpenMP" not in torch.__config__.parallel_info():
        return False
    set_threads = _omp_set_num_threads()
    if set_threads is None:
        return False
    _THIS.threads = torch.get_num_threads()  # (torch's per-thread set-up first: it would undo the next line)
    set_threads(1)
    return True


def restore_thread() -> None:
    """Undo `light_thread` on the calling thread: its own thread count again, its passes its own."""
    _THIS.light = False
    threads = getattr(_THIS, "threads", None)
    set_threads = _omp_set_num_threads()
    if threads is not None and set_threads is not None:
        set_threads(threads)
        _THIS.threads = None


class ComputeThread:
    """A daemon thread that runs the functions `call` hands it, one at a time, in the caller's grad mode.

    Servers sharing it `hold` it and `release` it; the last one closes it, so its OpenMP team (and the
    slow-down it brings to every other thread's torch ops) ends with the last server, not with the process."""

    def __init__(self, name: str = "loupe-compute") -> None:
        self._queue: queue.SimpleQueue[tuple[Callable[[], object], Future[object]] | None] = queue.SimpleQueue()
        self._users = 0
        self._closed = False
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self.thread.start()

    @property
    def closed(self) -> bool:
        return self._closed

    def hold(self) -> None:
        with self._lock:
            self._users += 1

    def release(self) -> bool:
        """One user less; True (and the thread ends after the work queued) when it was the last."""
        with self._lock:
            self._users -= 1
            self._closed = self._users == 0
            if self._closed:
                self._queue.put(None)
            return self._closed

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()` on the compute thread (at once when called from it, or on this thread once it is closed); its
        result or its exception."""
        if threading.current_thread() is self.thread:
            return fn()
        grad, inference = torch.is_grad_enabled(), torch.is_inference_mode_enabled()

        def in_mode() -> T:  # grad and inference mode are per thread: the pass gets the caller's
            with torch.inference_mode(inference), torch.set_grad_enabled(grad):
                return fn()

        future: Future[object] = Future()
        with self._lock:
            closed = self._closed
            if not closed:
                self._queue.put((in_mode, future))
        if closed:
            return fn()
        result: T = future.result()  # type: ignore[assignment]
        return result

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, future = item
            try:
                future.set_result(fn())
            except BaseException as exc:  # the caller re-raises it
                future.set_exception(exc)
            del fn, future, item  # the last job's closure and result must not stay alive while the queue is idle


def on_compute(compute: ComputeThread | None, fn: Callable[[], T]) -> T:
    """`fn()` on `compute` when there is one (a served model's) and this is a `light_thread` (a server's), else
    on this thread: a notebook's own thread, which forks its own OpenMP team anyway, keeps running its
    passes itself (and Ctrl-C stops them)."""
    return compute.call(fn) if compute is not None and getattr(_THIS, "light", False) else fn()


def serving_compute_thread() -> ComputeThread:
    """For a thread about to load a model and serve it for good (a Ray replica): from now on it runs torch
    single-threaded, and the model should load on the returned thread, where its passes will run."""
    light_thread()
    return ComputeThread()


@contextlib.contextmanager
def serving_thread() -> Iterator[ComputeThread]:
    """`serving_compute_thread` for as long as the block runs (`loupe serve`): on exit the calling thread is
    restored and, once no server holds it any more, the compute thread ends (a test calling `loupe serve` in
    its own process leaves no OpenMP team behind)."""
    compute = serving_compute_thread()
    compute.hold()
    try:
        yield compute
    finally:
        compute.release()
        restore_thread()
