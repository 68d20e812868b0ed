"""What an untrusted client found: malformed tensors, reused ids (issue 10, findings 5 and 6)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.server.conftest import Server, slow_layers
from tests.server.wire import Raw, tensor

PROMPT = "The Eiffel Tower is in the city of"


@pytest.mark.parametrize(
    ("shape", "data", "what"),
    [
        ([2**31, 2**31, 0], b"", "elements"),
        ([1] * 10_000, b"\0" * 4, "dimensions"),
        ([-1], b"", "non-negative"),
        ([1.5], b"\0" * 4, "non-negative"),
    ],
)
async def test_malformed_tensors_are_bad_message_with_the_id(
    server: Server, shape: list[object], data: bytes, what: str
) -> None:
    c = await Raw.connect(server.url)
    bad = {"dtype": "f32", "shape": shape, "data": data}
    [err] = await c.request({"type": "vectors.save", "id": "v1", "name": "v", "vector": bad})
    assert (err["type"], err["code"], err["id"]) == ("error", "bad_message", "v1")
    assert what in err["message"]
    assert await c.ping_ok()
    await c.close()


async def test_a_scalar_tensor_keeps_its_shape(server: Server) -> None:
    c = await Raw.connect(server.url)
    [pong] = await c.request({"type": "ping", "id": "p", "t": tensor(np.array(2.5, np.float32))})
    assert pong["t"].shape == () and float(pong["t"]) == 2.5
    await c.close()


async def test_a_reused_id_is_refused_without_disturbing_the_running_request(server: Server) -> None:
    c = await Raw.connect(server.url)
    with slow_layers(server.model, 0.05):
        await c.send({"type": "run", "id": "r", "prompt": PROMPT})
        await c.send({"type": "run", "id": "r", "prompt": "another prompt"})
        await c.send({"type": "interventions.list", "id": "r"})
        frames = await c.until_final("r")  # the first final frame under "r": the refusals
        frames += await c.until_final("r")
        frames += await c.until_final("r")  # then the run's own frames, up to its done
    types = [f["type"] for f in frames]
    assert [f["code"] for f in frames if f["type"] == "error"] == ["duplicate_id", "duplicate_id"]
    assert types.count("done") == 1 and types[-1] == "done" and not frames[-1]["cancelled"]
    assert types.count("run.result") == 1 and "interventions" not in types
    assert frames[-2]["type"] == "run.result"
    [listed] = await c.request({"type": "interventions.list", "id": "r"})  # finished: the id is free again
    assert listed["type"] == "interventions"
    await c.close()
