"""The compute thread that runs a server's passes, and threads that run torch without OpenMP teams."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest
import torch

from loupe.engine.compute import ComputeThread, light_thread, restore_thread

T = TypeVar("T")


def test_call_runs_on_the_compute_thread_in_the_callers_grad_mode() -> None:
    compute = ComputeThread(name="test-compute")
    assert compute.call(lambda: threading.current_thread().name) == "test-compute"
    with torch.no_grad():
        assert compute.call(torch.is_grad_enabled) is False
    assert compute.call(torch.is_grad_enabled) is True
    with torch.inference_mode():
        assert compute.call(torch.is_inference_mode_enabled) is True
    # called from the compute thread itself: at once, not queued behind itself
    assert compute.call(lambda: compute.call(lambda: 7)) == 7


def test_call_raises_the_functions_exception() -> None:
    compute = ComputeThread()

    def bad() -> None:
        raise ValueError("from the compute thread")

    with pytest.raises(ValueError, match="from the compute thread"):
        compute.call(bad)
    assert compute.call(lambda: 1) == 1  # the thread goes on


def test_light_thread_changes_only_its_own_thread() -> None:
    before = torch.get_num_threads()
    seen: list[int] = []

    def light() -> None:
        light_thread()
        seen.append(torch.get_num_threads())
        (torch.randn(256, 256) @ torch.randn(256, 256)).sum()

    t = threading.Thread(target=light)
    t.start()
    t.join()
    if "OpenMP" in torch.__config__.parallel_info():
        assert seen == [1]
    assert torch.get_num_threads() == before


def _on_light_thread(fn: Callable[[], T]) -> T:
    """`fn()` on a fresh `light_thread`, as a server's job thread runs it."""

    def light() -> T:
        light_thread()
        return fn()

    return _on_fresh_thread(light)


def test_passes_of_light_threads_run_on_the_models_compute_thread(make_pair) -> None:
    model, _ = make_pair("llama")
    names: list[str] = []

    def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
        names.append(threading.current_thread().name)

    def run() -> torch.Tensor:
        with torch.no_grad():
            res = model.run("Hello there", capture="blocks.0.hook_resid_post", on_layer=on_layer)
        return res.cache["blocks.0.hook_resid_post"]

    model.compute = ComputeThread(name="test-passes")
    try:
        served = _on_light_thread(run)
        assert set(names) == {"test-passes"}
        names.clear()
        mine = run()  # a thread of the user's (a notebook's) runs its own passes
        assert set(names) == {threading.current_thread().name}
    finally:
        model.compute = None
    torch.testing.assert_close(served, mine)


def test_the_last_release_ends_the_thread() -> None:
    compute = ComputeThread(name="test-release")
    compute.hold()
    compute.hold()
    assert compute.release() is False
    assert compute.call(lambda: threading.current_thread().name) == "test-release"
    assert compute.release() is True
    compute.thread.join(5)
    assert not compute.thread.is_alive()  # its OpenMP team goes with it
    assert compute.call(lambda: threading.current_thread().name) == threading.current_thread().name


@pytest.mark.skipif(
    not os.path.isdir("/proc/self/task") or "OpenMP" not in torch.__config__.parallel_info(),
    reason="counts threads in /proc, with torch's OpenMP",
)
def test_a_light_thread_forks_no_openmp_team() -> None:
    """The point of `light_thread`: big multi-threadable ops on it start no OpenMP worker threads, where the
    same ops on a plain thread do (when there is more than one core to use)."""

    def threads_while(light: bool) -> int:
        ready, done = threading.Event(), threading.Event()

        def work() -> None:
            if light:
                light_thread()
            x = torch.randn(1024, 1024)
            (x @ x).exp().sum()
            ready.set()
            done.wait()

        t = threading.Thread(target=work)
        before = len(os.listdir("/proc/self/task"))
        t.start()
        ready.wait()
        during = len(os.listdir("/proc/self/task")) - before
        done.set()
        t.join()
        return during

    assert threads_while(light=True) == 1  # the thread itself, nothing more
    if torch.get_num_threads() > 1:
        assert threads_while(light=False) > 1  # its own OpenMP team


def test_serving_thread_restores_the_calling_thread() -> None:
    """`loupe serve` called in-process (as tests do) leaves its thread as it found it, and no compute thread."""
    from loupe.engine.compute import on_compute, serving_thread

    def body() -> int:
        before = torch.get_num_threads()
        with serving_thread() as compute:
            inside = torch.get_num_threads()
            assert on_compute(compute, lambda: threading.current_thread().name) == compute.thread.name
        compute.thread.join(5)
        assert not compute.thread.is_alive()
        assert on_compute(compute, lambda: threading.current_thread().name) == threading.current_thread().name
        assert torch.get_num_threads() == before
        return inside

    inside = _on_fresh_thread(body)
    if "OpenMP" in torch.__config__.parallel_info():
        assert inside == 1


def _on_fresh_thread(fn: Callable[[], T]) -> T:
    out: list[T] = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_light_twice_then_restore_gives_the_threads_count_back() -> None:
    def body() -> tuple[int, int]:
        before = torch.get_num_threads()
        light_thread()
        light_thread()  # (a server thread lightened twice, e.g. loupe serve called from a job)
        restore_thread()
        return before, torch.get_num_threads()

    before, after = _on_fresh_thread(body)
    assert after == before
