"""The balancer without Ray: two in-process replicas behind it, a replica that vanishes, bad requests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.server import ServerConnection, serve

import loupe
from loupe.scale.balancer import create_balancer
from loupe.scale.proxy import LOST_CODE, LOST_REASON
from loupe.scale.registry import Registry
from loupe.server.background import serving
from tests.proto.schemas import validate
from tests.scale.conftest import ABLATE, LIMITS, PROMPTS, run_top, same_predictions, serving_asgi
from tests.server.wire import Raw


class Front:
    def __init__(self, http: str, registry: Registry, replicas: dict[str, str]) -> None:
        self.http, self.registry, self.replicas = http, registry, replicas
        self.ws = http.replace("http://", "ws://") + "/ws"


@pytest.fixture(scope="module")
def front(tiny_local: loupe.HookedModel) -> Iterator[Front]:
    registry = Registry()
    with (
        serving(tiny_local, LIMITS, replica="a") as a,
        serving(tiny_local, LIMITS, replica="b") as b,
        serving_asgi(create_balancer(registry, LIMITS.transport_max_bytes), LIMITS.transport_max_bytes) as http,
    ):
        for order, (name, url) in enumerate({"a": a, "b": b}.items()):
            registry.beat(name, tiny_local.cfg.name, 0, url, 100 + order, "here")
        yield Front(http, registry, {"a": a, "b": b})


async def test_sessions_spread_and_match_a_direct_server(front: Front, tiny_local: loupe.HookedModel) -> None:
    sessions = [await Raw.connect(front.ws) for _ in PROMPTS]
    try:
        assert [s.welcome["replica"] for s in sessions] == ["a", "b"] * 3
        validate({k: v for k, v in sessions[0].welcome.items() if k != "_t"})  # `replica` is in the schema
        health = httpx.get(f"{front.http}/api/health", timeout=10).json()
        assert health["status"] == "ok" and health["sessions"] == 6
        assert {r["replica"]: r["sessions"] for r in health["replicas"]} == {"a": 3, "b": 3}
        with serving(tiny_local, LIMITS) as alone:
            direct = await Raw.connect(alone)
            want = [await run_top(direct, p) for p in PROMPTS]
            await direct.close()
        got = await asyncio.gather(*(run_top(s, p) for s, p in zip(sessions, PROMPTS, strict=True)))
        assert same_predictions(got, want)
    finally:
        for s in sessions:
            await s.close()


async def test_interventions_stay_in_their_session(front: Front) -> None:
    first, second = await Raw.connect(front.ws), await Raw.connect(front.ws)
    third = await Raw.connect(front.ws)  # on the same replica as `first`
    assert first.welcome["replica"] == third.welcome["replica"] != second.welcome["replica"]
    clean = await run_top(second, PROMPTS[0])
    reply = await first.request({"type": "interventions.set", "id": 1, "items": [ABLATE]})
    assert reply[0]["type"] == "interventions", reply
    ablated = await run_top(first, PROMPTS[0])
    assert ablated != clean
    assert same_predictions([await run_top(second, PROMPTS[0]), await run_top(third, PROMPTS[0])], [clean, clean])
    for s in (first, second, third):
        await s.close()


@contextlib.asynccontextmanager
async def vanishing_replica() -> AsyncIterator[str]:
    """A WebSocket server that drops the TCP connection on the first frame, as a killed process does."""

    async def handler(ws: ServerConnection) -> None:
        await ws.recv()
        ws.transport.abort()  # no close frame

    async with serve(handler, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws"


async def test_a_lost_replica_closes_its_sessions_with_1012(front: Front) -> None:
    async with vanishing_replica() as url:
        front.registry.beat("c", "other", 1, url, 999, "here")
        raw = await Raw.connect(f"{front.ws}?model=other", hello=False)
        await raw.send({"type": "hello", "protocol": 1})
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await raw.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (LOST_CODE, LOST_REASON)
    assert "c" not in [r.replica for r in front.registry.live()]
    again = await Raw.connect(front.ws)  # a reconnecting client gets a live replica
    assert again.welcome["replica"] in ("a", "b")
    await again.close()


async def refused(url: str) -> tuple[dict[str, Any], int]:
    raw = await Raw.connect(url, hello=False)
    error = await raw.recv()
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await raw.recv()
    assert closed.value.rcvd is not None
    return error, closed.value.rcvd.code


async def test_unknown_model_and_no_replica_are_refused_clearly(front: Front) -> None:
    error, code = await refused(f"{front.ws}?model=nope")
    assert (error["code"], code) == ("bad_message", 1008)
    assert "'nope'" in error["message"] and "serving:" in error["message"]
    with serving_asgi(create_balancer(Registry(), 1 << 20), 1 << 20) as empty:
        error, code = await refused(empty.replace("http://", "ws://") + "/ws")
        assert (error["code"], code) == ("busy", 1013)
        assert httpx.get(f"{empty}/api/health", timeout=10).status_code == 503


async def test_a_foreign_origin_or_host_is_refused(front: Front) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused_:
        await websockets.connect(front.ws, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused_.value.response.status_code == 403
    rebound = httpx.get(f"{front.http}/api/health", headers={"Host": "evil.example"}, timeout=10)
    assert rebound.status_code == 403  # a loopback balancer answers to loopback names only (DNS rebinding)


def test_model_endpoint_is_a_replicas(front: Front, tiny_local: loupe.HookedModel) -> None:
    body = httpx.get(f"{front.http}/api/model", timeout=10).json()
    assert body["name"] == tiny_local.cfg.name and body["n_layers"] == tiny_local.cfg.n_layers
    assert body["limits"]["max_prompt_tokens"] == LIMITS.max_prompt_tokens
