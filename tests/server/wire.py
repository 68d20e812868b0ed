"""A minimal protocol client written only from proto/README.md (no loupe imports): websockets + msgpack + numpy."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgpack
import numpy as np
import websockets

DT = {"f16": "<f2", "f32": "<f4", "i32": "<i4"}


def decode(obj: Any) -> Any:
    """Turn every tensor map {dtype, shape, data: bin} into a numpy array (README section 2)."""
    if isinstance(obj, dict):
        if set(obj) == {"dtype", "shape", "data"} and isinstance(obj["data"], bytes):
            return np.frombuffer(obj["data"], DT[obj["dtype"]]).reshape(obj["shape"])
        return {k: decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v) for v in obj]
    return obj


def tensor(arr: np.ndarray) -> dict[str, Any]:
    dtype = {np.dtype("float16"): "f16", np.dtype("float32"): "f32", np.dtype("int32"): "i32"}[arr.dtype]
    return {"dtype": dtype, "shape": list(arr.shape), "data": np.ascontiguousarray(arr).astype(DT[dtype]).tobytes()}


class Raw:
    """One WebSocket session; `recv` returns (decoded message, arrival time)."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    @classmethod
    async def connect(cls, url: str, hello: bool = True) -> Raw:
        raw = cls(await websockets.connect(url, max_size=1 << 28, open_timeout=10))
        if hello:
            await raw.send({"type": "hello", "protocol": 1})
            welcome = await raw.recv()
            assert welcome["type"] == "welcome", welcome
            raw.welcome = welcome
        return raw

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(msgpack.packb(message, use_bin_type=True))

    async def send_bytes(self, data: bytes | str) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = 20.0) -> dict[str, Any]:
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        assert isinstance(frame, bytes), "the server sends binary frames only"
        msg = decode(msgpack.unpackb(frame, raw=False))
        msg["_t"] = time.perf_counter()
        return msg

    async def until_final(self, rid: Any, streaming: bool = True, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Every frame for request `rid`, up to its final frame (done/error, or the single reply)."""
        out = []
        while True:
            msg = await self.recv(timeout)
            if msg.get("id") != rid:
                continue
            out.append(msg)
            if msg["type"] in ("done", "error") or not streaming:
                return out

    async def request(self, message: dict[str, Any], streaming: bool = False) -> list[dict[str, Any]]:
        await self.send(message)
        return await self.until_final(message.get("id"), streaming)

    async def ping_ok(self) -> bool:
        await self.send({"type": "ping", "id": "p", "t": 7})
        while True:
            msg = await self.recv(10)
            if msg.get("id") == "p":
                return msg["type"] == "pong" and msg["t"] == 7

    async def close(self) -> None:
        await self.ws.close()
