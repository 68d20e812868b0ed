"""A client that stops reading is dropped with 1008 and its session freed at once (issue 10, finding 2).

No timing is asserted tightly: the deadlines below are generous, but shorter than the keepalive ping
(20 s interval + 20 s timeout) that was the only thing ending such a session before."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from urllib.parse import urlsplit

import httpx
import msgpack
import pytest
import websockets

from tests.server.conftest import TEST_LIMITS, Server, serve
from tests.server.wire import Raw

PROMPT = "The Eiffel Tower is in the city of Paris, and the Colosseum is in the city of Rome. " * 2
BIG_RUN = {"type": "run", "prompt": PROMPT, "capture": ["blocks.*"], "dtype": "f32", "summaries": False}


async def connect_not_reading(url: str) -> websockets.ClientConnection:
    """A WebSocket with a tiny receive buffer whose client library stops reading after one frame."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((parts.hostname, parts.port))
    ws = await websockets.connect(url, sock=sock, max_size=1 << 28, max_queue=1, open_timeout=10)
    await ws.send(msgpack.packb({"type": "hello", "protocol": 1}))
    await ws.recv()
    return ws


async def sessions(http: str) -> int:
    response = await asyncio.to_thread(httpx.get, f"{http}/api/health", timeout=10)
    return int(response.json()["sessions"])


@pytest.mark.parametrize(
    ("name", "outbound_bytes", "timeout_s"),
    [("queue over max_outbound_bytes", 1 << 20, 10), ("a frame stuck past slow_client_timeout_s", 1 << 30, 2)],
)
async def test_a_client_that_stops_reading_is_dropped_and_freed(
    server: Server, name: str, outbound_bytes: int, timeout_s: int
) -> None:
    limits = dataclasses.replace(TEST_LIMITS, max_outbound_bytes=outbound_bytes, slow_client_timeout_s=timeout_s)
    with serve(server.model, limits) as srv:
        other = await Raw.connect(srv.url)
        slow = await connect_not_reading(srv.url)
        assert await sessions(srv.http) == 2
        for i in range(4):  # a session's queue holds max_queued_jobs; send them again as they finish
            await slow.send(msgpack.packb({**BIG_RUN, "id": i}))
        sent, deadline = 4, time.monotonic() + 30  # the keepalive alone would take 40 s
        while await sessions(srv.http) > 1:
            assert time.monotonic() < deadline, f"{name}: the session of a client that does not read is still open"
            await slow.send(msgpack.packb({**BIG_RUN, "id": sent}))
            sent += 1
            await asyncio.sleep(0.2)
        frames = await other.request({"type": "run", "id": "ok", "prompt": "Hello"}, streaming=True)
        assert frames[-1]["type"] == "done"  # the other session never noticed
        health = (await asyncio.to_thread(httpx.get, f"{srv.http}/api/health", timeout=10)).json()
        assert health["jobs"] == 0  # the dropped session's queued work is gone too
        with pytest.raises(websockets.ConnectionClosed) as closed:  # now read: what was sent, then the close
            async with asyncio.timeout(60):
                while True:
                    await slow.recv()
        rcvd = closed.value.rcvd
        if outbound_bytes < 1 << 30:  # read right after the drop: the close frame got through
            assert rcvd is not None and (rcvd.code, rcvd.reason) == (1008, "client too slow")
        else:  # with a 2 s grace the server may have aborted the TCP connection before we read
            assert rcvd is None or (rcvd.code, rcvd.reason) == (1008, "client too slow")
        await other.close()
