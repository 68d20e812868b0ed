"""One WebSocket connection = one session: the connection state machine, dispatch and the job queue (what each
request type runs is in requests.py).

States: OPEN (accepted, waiting for `hello`) -> READY (welcomed) -> CLOSED. Cheap requests are
answered on the event loop; model jobs queue per session and run one at a time on the host's
worker threads. Every bad input gets an `error` frame and the session keeps going.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from loupe.codec import decode_tensors, pack, unpack_map
from loupe.errors import Cancelled, LoupeError
from loupe.server import protocol
from loupe.server.features import list_reply
from loupe.server.host import Host, JobContext
from loupe.server.link import Link
from loupe.server.protocol import Request
from loupe.server.requests import JOBS, STORES, model_info, token_matches
from loupe.server.state import SessionState
from loupe.version import __version__
from loupe.wire import (
    ENDS_WITH_DONE,
    PROTOCOL_VERSION,
    CancelRequest,
    HelloRequest,
    PingRequest,
)

log = logging.getLogger("loupe.server")


class ConnState(enum.Enum):
    OPEN = "open"
    READY = "ready"
    CLOSED = "closed"


@dataclass
class Job:
    ctx: JobContext
    started: float = field(default_factory=time.perf_counter)


class Session:
    """Serves one accepted WebSocket until it closes; `token` is the server's token, if any."""

    def __init__(self, ws: WebSocket, host: Host, token: str | None = None, replica: str | None = None) -> None:
        self.ws, self.host, self.token, self.replica = ws, host, token, replica
        self.id = secrets.token_hex(8)
        self.conn = ConnState.OPEN
        self.state = SessionState(host.model, host.limits)
        self.jobs: dict[str | int, Job] = {}  # queued or running, by request id
        self._queue: deque[Job] = deque()
        self._wake = asyncio.Event()
        self.link = Link(ws, host.limits, on_drop=lambda: self.close(1008, "client too slow"))
        self._unpack_limits = host.limits.unpack()
        self._handlers: dict[str, Callable[[Request], dict[str, Any] | None]] = {
            "hello": self.on_hello,
            "ping": lambda r: {"type": "pong", "t": r.args(PingRequest)["t"]},
            "cancel": self.on_cancel,
            "features.list": lambda r: list_reply(host.model),
        }

    # --- connection -----------------------------------------------------------------------------

    async def serve(self) -> None:
        """Serve until the client leaves or the session is closed (then `link.finish()` closes the socket).

        On return the session's jobs are cancelled and its state is freed."""
        await self.ws.accept()
        self.link.start()
        ends = [asyncio.create_task(self._receive_loop()), asyncio.create_task(self.link.ended.wait())]
        self._tasks = [asyncio.create_task(self._job_loop()), asyncio.create_task(self._hello_deadline()), *ends]
        try:
            await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        finally:  # no awaits here: the ASGI server may be cancelling this task
            self.conn = ConnState.CLOSED
            for job in self.jobs.values():
                job.ctx.cancel.set()
            self.link.outbox.close()
            for t in self._tasks:
                t.cancel()
            self.jobs.clear()
            self._queue.clear()
            if self.host.scheduler is not None:
                self.host.scheduler.forget(self.id)  # its runs waiting for a batch
            self.state = SessionState(self.host.model, self.host.limits)  # saved runs, vectors, patterns: freed

    async def _receive_loop(self) -> None:
        while True:
            try:
                message = await self.ws.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if self.conn is ConnState.CLOSED:  # closing: ignore the rest until the client is gone
                continue
            data = message.get("bytes")
            if data is None:
                self.send_error(None, LoupeError("bad_frame", "expected a binary frame holding one msgpack map"))
                continue
            self.handle(data)

    async def _hello_deadline(self) -> None:
        """A connection that never gets welcomed must not hold one of the server's session slots."""
        seconds = self.host.limits.hello_timeout_s
        await asyncio.sleep(seconds)
        if self.conn is ConnState.OPEN:
            self.send_error(None, LoupeError("no_hello", f"no accepted hello within {seconds} s; closing"))
            self.close(1008, "no hello")

    def close(self, code: int, reason: str) -> None:
        """Stop the session's jobs and end it; what is queued goes out, then a close frame with `code`."""
        self.conn = ConnState.CLOSED
        for job in self.jobs.values():
            job.ctx.cancel.set()
        self.link.close(code, reason)

    def send(self, message: dict[str, Any]) -> None:
        self.link.put(pack(message))

    def send_error(self, rid: str | int | None, err: LoupeError) -> None:
        msg: dict[str, Any] = {"type": "error", "code": err.code, "message": err.message}
        if rid is not None:
            msg["id"] = rid
        self.send(msg)

    # --- dispatch -------------------------------------------------------------------------------

    def handle(self, frame: bytes) -> None:
        rid: str | int | None = None
        try:
            message = unpack_map(frame, self._unpack_limits)
            rid = protocol.peek_id(message)
            req = protocol.parse(decode_tensors(message))
            if self.conn is ConnState.OPEN and req.type not in ("hello", "ping"):
                raise LoupeError("no_hello", f"send hello {{protocol: {PROTOCOL_VERSION}}} first")
            if req.id is not None and req.id in self.jobs:
                raise LoupeError(
                    "duplicate_id",
                    f"{req.type}.id: {req.id!r} belongs to a request still queued or running; that one goes on",
                )
            if req.type in JOBS:
                self.submit(req)
                return
            handler = self._handlers.get(req.type)
            reply = handler(req) if handler is not None else STORES[req.type](self.state, req)
        except LoupeError as err:
            self.send_error(rid, err)
            return
        except Exception as exc:  # a server bug must not end the session, nor leave the request unanswered
            log.exception("session %s: handling a frame failed", self.id)
            self.send_error(rid, LoupeError("internal", f"{type(exc).__name__}: {exc}"))
            return
        if reply is not None:
            self.send({**reply, "id": req.id} if req.id is not None else reply)

    def on_hello(self, req: Request) -> dict[str, Any] | None:
        if self.conn is ConnState.READY:
            raise LoupeError("bad_message", "hello: this session is already welcomed")
        hello = req.args(HelloRequest)
        if hello["protocol"] not in protocol.SUPPORTED_PROTOCOLS:
            raise LoupeError(
                "unsupported_protocol",
                f"hello.protocol: expected one of {list(protocol.SUPPORTED_PROTOCOLS)}, got {hello['protocol']}",
            )
        if self.token is not None and not token_matches(hello["token"], self.token):
            self.send_error(req.id, LoupeError("unauthorized", "hello.token: missing or wrong token"))
            self.close(4401, "unauthorized")
            return None
        self.conn = ConnState.READY
        welcome = {
            "type": "welcome",
            "protocol": PROTOCOL_VERSION,
            "session": self.id,
            "server": f"loupe/{__version__}",
            "model": model_info(self.host),
            "limits": self.host.limits.public(),
        }
        return welcome if self.replica is None else {**welcome, "replica": self.replica}

    # --- jobs -----------------------------------------------------------------------------------

    def submit(self, req: Request) -> None:
        assert req.id is not None
        if len(self.jobs) >= self.host.limits.max_queued_jobs:
            raise LoupeError("busy", f"this session already has {len(self.jobs)} jobs queued or running")
        emit = self.link.outbox.put_threadsafe
        ctx = JobContext(self.host, self.id, req, self.state.snapshot(), threading.Event(), emit)
        job = Job(ctx)
        self.jobs[req.id] = job
        self._queue.append(job)
        self._wake.set()

    def on_cancel(self, req: Request) -> dict[str, Any]:
        target = req.args(CancelRequest)["target"]
        if target is not None and target not in self.jobs:
            raise LoupeError("not_found", f"cancel.target: no queued or running job with id {target!r}")
        targets = [target] if target is not None else list(self.jobs)
        for t in targets:
            job = self.jobs[t]
            job.ctx.cancel.set()
            if job in self._queue:  # never started: finish it now
                self._queue.remove(job)
                self._finish(job, None, cancelled=True)
        return {"type": "cancelled", "targets": targets}

    async def _job_loop(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            job = self._queue.popleft()
            job.started = time.perf_counter()
            job.ctx.last_run = self.state.last_run
            try:
                commit = await self.host.execute(functools.partial(JOBS[job.ctx.request.type], job.ctx), self.id)
            except Cancelled:
                self._finish(job, None, cancelled=True)
            except LoupeError as err:
                self._finish(job, err)
            except Exception as exc:
                log.exception("session %s: job %r failed", self.id, job.ctx.request.id)
                self._finish(job, LoupeError("internal", f"{type(exc).__name__}: {exc}"))
            else:
                try:
                    reply = commit(self.state)
                except LoupeError as err:
                    self._finish(job, err)
                else:
                    self._finish(job, None, reply=reply)

    def _finish(
        self, job: Job, err: LoupeError | None, cancelled: bool = False, reply: dict[str, Any] | None = None
    ) -> None:
        req = job.ctx.request
        self.jobs.pop(req.id, None)  # type: ignore[arg-type]
        if err is not None:
            self.send_error(req.id, err)
            return
        done: dict[str, Any] = {}
        if reply is not None and reply["type"] == "done":
            done = reply
        elif reply is not None:
            self.send({**reply, "id": req.id})
        if req.type in ENDS_WITH_DONE:
            ms = (time.perf_counter() - job.started) * 1000
            self.send({**done, "type": "done", "id": req.id, "ms": ms, "cancelled": cancelled})
