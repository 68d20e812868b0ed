"""A real local Ray cluster (loopback only, 2 logical CPUs): 2 replicas of a tiny model behind the balancer,
and, for comparison, a plain Serve WebSocket app behind Serve's own HTTP proxy (on loopback).

Ray starts once for the module (one to three minutes on a small machine) and is shut down at its end."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket

import loupe
from loupe.features.dashboard import compute_dashboard
from loupe.features.info import feature_info
from loupe.features.sae import SAE
from loupe.scale.proxy import LOST_CODE
from loupe.server.background import serving
from tests.features.helpers import random_sae
from tests.scale.conftest import ABLATE, LIMITS, PROMPTS, run_top, same_predictions
from tests.server.wire import Raw

pytest.importorskip("ray.serve")
import ray  # these need ray
from ray import serve
from ray.serve import Application

from loupe.scale.run import deployed, start_ray
from loupe.scale.spec import ScaleSpec

PORT = 8711
SERVE_PROXY_PORT = 8712
WS = f"ws://127.0.0.1:{PORT}/ws"
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def sae_dir(tmp_path_factory: pytest.TempPathFactory, tiny_local: loupe.HookedModel) -> Path:
    """An SAE for the tiny model, with a dashboard, that every replica attaches (`loupe serve --ray --sae`)."""
    path = tmp_path_factory.mktemp("tiny-sae")
    sae = random_sae("topk", d_in=tiny_local.cfg.d_model, d_sae=48, k=4, hook="blocks.1.hook_resid_post")
    sae.save(path)
    compute_dashboard(tiny_local, sae, tiny_local.to_tokens(PROMPTS[:3]), n_contexts=2, window=4).save(path)
    return path


@pytest.fixture(scope="module")
def cluster(tiny_dir: Path, sae_dir: Path) -> Iterator[dict[str, Any]]:
    spec = ScaleSpec(
        models=(str(tiny_dir),), replicas=2, port=PORT, limits=LIMITS, num_cpus=0.5, saes=(f"{sae_dir}:tiny-sae",)
    )
    start_ray(None, num_cpus=2)
    try:  # Serve's HTTP proxy is on here (Loupe's app does not use it) for the last test's comparison
        serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": SERVE_PROXY_PORT})
        with deployed(spec, timeout_s=480) as health:
            yield health
    finally:
        ray.shutdown()


def health() -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"http://127.0.0.1:{PORT}/api/health", timeout=30).json()
    return body


async def test_six_sessions_spread_over_two_replicas_and_match_one_process(
    cluster: dict[str, Any], tiny_local: loupe.HookedModel
) -> None:
    replicas = {r["replica"] for r in cluster["replicas"]}
    assert len(replicas) == 2
    sessions = [await Raw.connect(WS) for _ in PROMPTS]
    seen = [s.welcome["replica"] for s in sessions]
    assert set(seen) == replicas and seen.count(seen[0]) == 3
    with serving(tiny_local, LIMITS) as alone:
        direct = await Raw.connect(alone)
        want = [await run_top(direct, p) for p in PROMPTS]
        await direct.close()
    got = await asyncio.gather(*(run_top(s, p) for s, p in zip(sessions, PROMPTS, strict=True)))
    assert same_predictions(got, want)
    # session 0 ablates; the two sessions on its replica and the three on the other see no change
    await sessions[0].request({"type": "interventions.set", "id": "i", "items": [ABLATE]})
    after = await asyncio.gather(*(run_top(s, PROMPTS[0], "again") for s in sessions))
    assert not same_predictions(after[:1], want[:1])
    assert same_predictions(after[1:], [want[0]] * 5)
    assert health()["sessions"] == 6
    for s in sessions:
        await s.close()


async def test_every_replica_attaches_the_saes(
    cluster: dict[str, Any], sae_dir: Path, tiny_local: loupe.HookedModel
) -> None:
    """Both replicas list the SAE and answer features.info as the library does on a local copy."""
    sae = SAE.load(sae_dir, "tiny-sae")
    want = feature_info(tiny_local, sae, sae.dashboard, 3)
    replicas = {r["replica"] for r in cluster["replicas"]}
    sessions: list[Raw] = []
    while {s.welcome["replica"] for s in sessions} != replicas and len(sessions) < 8:  # open ones spread them
        sessions.append(await Raw.connect(WS))
    assert {s.welcome["replica"] for s in sessions} == replicas
    for s in sessions:
        [listed] = await s.request({"type": "features.list", "id": "l"})
        assert [(x["id"], x["d_sae"], x["dashboard"]) for x in listed["saes"]] == [("tiny-sae", 48, True)]
        [info] = await s.request({"type": "features.info", "id": "i", "sae": "tiny-sae", "index": 3})
        assert info["promoted"] == want["promoted"] and info["contexts"] == want["contexts"]
        assert info["density"] == pytest.approx(want["density"])
        await s.close()


async def test_the_front_offers_no_compression(cluster: dict[str, Any]) -> None:
    """Like `loupe serve`, the balancer does not agree to permessage-deflate (a run's frames cost more CPU to
    deflate than a local link saves)."""
    async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws", compression="deflate") as ws:
        assert ws.response is not None
        assert "permessage-deflate" not in (ws.response.headers.get("Sec-WebSocket-Extensions") or "")


async def test_a_killed_replica_closes_its_sessions_and_comes_back(cluster: dict[str, Any]) -> None:
    sessions = [await Raw.connect(WS) for _ in range(4)]
    victim = sessions[0].welcome["replica"]
    pid = next(r["pid"] for r in health()["replicas"] if r["replica"] == victim)
    doomed = [s for s in sessions if s.welcome["replica"] == victim]
    kept = [s for s in sessions if s.welcome["replica"] != victim]
    assert len(doomed) == len(kept) == 2
    before = [await run_top(s, PROMPTS[2]) for s in kept]
    os.kill(pid, signal.SIGKILL)
    for s in doomed:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await s.recv(timeout=120)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == LOST_CODE
    again = await Raw.connect(WS)  # a reconnecting client lands on a live replica
    assert again.welcome["replica"] != victim
    assert same_predictions([await run_top(s, PROMPTS[2]) for s in kept], before)
    assert same_predictions([await run_top(again, PROMPTS[2])], before[:1])
    deadline = time.monotonic() + 480  # Ray starts a new replica in the killed one's place
    while time.monotonic() < deadline:
        live = [r for r in health()["replicas"] if r["status"] == "ok"]
        if len(live) == 2 and victim not in {r["replica"] for r in live}:
            break
        await asyncio.sleep(2)
    else:
        pytest.fail(f"no replacement replica within 480 s: {health()}")
    for s in [*kept, again]:
        await s.close()


def native_websocket_app() -> Application:
    """The Serve-native way: a WebSocket route of an ASGI app that is a Serve deployment's ingress, reached
    through Serve's proxy. (Defined in a function so that Ray ships it by value.)"""

    async def session(ws: StarletteWebSocket) -> None:
        await ws.accept()
        await ws.send_text(str(os.getpid()))
        while True:
            await ws.send_text(await ws.receive_text())

    @serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.25})
    @serve.ingress(Starlette(routes=[WebSocketRoute("/", session)]))
    class Native:
        pass

    return Native.bind()  # type: ignore[attr-defined]


async def test_serve_own_proxy_ends_a_lost_replicas_websocket_without_a_close_code(cluster: dict[str, Any]) -> None:
    """Why Loupe puts its own balancer in front: through Serve's proxy, a WebSocket whose replica dies just
    breaks (no close frame: 1006 at the client, like a network fault), where the balancer says 1012."""
    serve.run(native_websocket_app(), name="native", route_prefix="/native")
    try:
        ws = await connect_when_routed(f"ws://127.0.0.1:{SERVE_PROXY_PORT}/native/")
        os.kill(int(await ws.recv()), signal.SIGKILL)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 120)
        assert closed.value.rcvd is None  # no close code, no reason
    finally:
        serve.delete("native")


async def connect_when_routed(url: str, timeout_s: float = 120) -> Any:
    """Serve's proxy learns a new route a little after `serve.run` returns; until then it refuses (403)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return await websockets.connect(url, open_timeout=60)
        except websockets.InvalidStatus:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(1)
