"""A server's passes run on the model's compute thread (engine/compute.py)."""

from __future__ import annotations

import threading

from loupe.client import SyncClient
from loupe.engine.compute import ComputeThread


def test_a_server_runs_its_passes_on_a_compute_thread(server) -> None:
    model = server.model
    seen: list[str] = []
    real = model.hf.forward

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    model.hf.forward = spy
    try:
        with SyncClient(server.url) as client:
            client.run("Hello there")
    finally:
        del model.hf.forward
    assert isinstance(model.compute, ComputeThread) and model.compute.thread.is_alive()
    assert seen and set(seen) == {model.compute.thread.name}


def test_the_compute_thread_ends_with_the_last_server(make_pair) -> None:
    from tests.server.conftest import TEST_LIMITS, serve

    model, _ = make_pair("gpt2")  # a model no other test serves
    with serve(model, TEST_LIMITS):
        compute = model.compute
        assert compute is not None
        with serve(model, TEST_LIMITS):
            assert model.compute is compute  # shared
        assert model.compute is compute and compute.thread.is_alive()  # the first server still runs
    assert model.compute is None  # passes run on the caller's thread again
    compute.thread.join(5)
    assert not compute.thread.is_alive()
