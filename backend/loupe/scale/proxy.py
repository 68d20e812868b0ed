"""Pass one WebSocket session through to the replica that holds it, frame for frame, both ways."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from starlette.websockets import WebSocket
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

LOST_CODE = 1012  # "service restart": the replica holding the session is gone; reconnect
LOST_REASON = "replica lost; reconnect"
RESERVED = (1005, 1006, 1015)  # close codes a peer reports but may never send


async def open_upstream(url: str, max_size: int) -> ClientConnection:
    """Connect to a replica (no Origin header: the balancer checked the browser's Origin already)."""
    return await connect(
        url, max_size=max_size, compression=None, proxy=None, open_timeout=15, ping_interval=20, ping_timeout=60
    )


async def _client_to_upstream(client: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await client.receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close()
            return
        data = message.get("bytes")
        await upstream.send(data if data is not None else message.get("text") or "")


async def _upstream_to_client(client: WebSocket, upstream: ClientConnection) -> None:
    async for frame in upstream:
        if isinstance(frame, bytes):
            await client.send_bytes(frame)
        else:
            await client.send_text(frame)


async def pipe(client: WebSocket, upstream: ClientConnection, on_lost: Callable[[], None]) -> None:
    """Relay until either side ends; close the other side the same way. When the replica was lost (the
    connection broke without a close frame) call `on_lost`, then close the client with code 1012."""
    tasks = [
        asyncio.create_task(_client_to_upstream(client, upstream)),
        asyncio.create_task(_upstream_to_client(client, upstream)),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    client_left = tasks[0].done() and not tasks[0].cancelled() and tasks[0].exception() is None
    if client_left:
        return
    await upstream.close()
    rcvd = upstream.close_exc.rcvd if isinstance(upstream.close_exc, ConnectionClosed) else None
    code, reason = (rcvd.code, rcvd.reason) if rcvd is not None else (LOST_CODE, LOST_REASON)
    if rcvd is None:
        on_lost()
    with contextlib.suppress(Exception):  # the client may have gone at the same moment
        await client.close(code=1000 if code in RESERVED else code, reason=reason)
