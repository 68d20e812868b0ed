"""Scripting client for a Loupe server (the protocol of proto/README.md).

    async with Client("ws://127.0.0.1:8000/ws") as c:
        out = await c.run("The Eiffel Tower is in", capture=["blocks.*.hook_resid_post"])
        print(out.top_k[0]["str"], out.cache["blocks.3.hook_resid_post"].shape)

`SyncClient` offers the same methods without async/await.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import websockets

from loupe.codec import UnpackLimits, pack, unpack
from loupe.errors import LoupeError
from loupe.wire import (
    ENDS_WITH_DONE,
    PROTOCOL_VERSION,
    STREAMED,
    AnalyzeKind,
    ContrastHit,
    FeatureHit,
    FeaturesInfoReply,
    FloatDType,
    Intervention,
    LayerSummary,
    LogitDiff,
    Pred,
    RequestId,
    RunFeatures,
    RunFeaturesRequest,
    SaeInfo,
    SavedRun,
    SearchBy,
    SummaryPart,
    VectorInfo,
)

MAX_FRAME = 1 << 30
CLIENT_LIMITS = UnpackLimits(MAX_FRAME, MAX_FRAME, MAX_FRAME, 1 << 24, 1 << 20)  # trust the server's frames


class ServerError(LoupeError):
    """An `error` frame from the server; `code` is the protocol error code."""


@dataclass
class RunOutput:
    """Everything a `run` streamed: tokens, per-layer summaries, captured tensors and predictions."""

    tokens: np.ndarray
    str_tokens: list[str]
    summaries: list[LayerSummary] = field(default_factory=list)  # per layer
    cache: dict[str, np.ndarray] = field(default_factory=dict)  # captured hook points, no batch dim
    top_k: list[Pred] = field(default_factory=list)  # intervened run: token, str, prob, logit
    clean: list[Pred] = field(default_factory=list)  # with the session's interventions off
    intervened: bool = False
    logit_diff: LogitDiff | None = None
    features: RunFeatures | None = None  # with run(features=...): {sae, hook, ids [T, k], values [T, k]}
    ms: float = 0.0
    cancelled: bool = False

    def apply(self, msg: dict[str, Any]) -> None:
        """Take in one frame of the run (run.tokens, run.layer, run.result or done)."""
        kind = msg["type"]
        if kind == "run.tokens":
            self.tokens, self.str_tokens = msg["tokens"], msg["str_tokens"]
        elif kind == "run.layer":
            self.cache.update(msg["tensors"])
            self.summaries.append(msg.get("summary", {}))
            self.features = msg.get("features", self.features)
        elif kind == "run.result":
            self.cache.update(msg["tensors"])
            self.top_k, self.clean, self.intervened = msg["top_k"], msg["clean"], msg["intervened"]
            self.logit_diff = msg.get("logit_diff")
        elif kind == "done":
            self.ms, self.cancelled = msg["ms"], msg["cancelled"]


FrameTap = Callable[[bytes, dict[str, Any]], None]


class Client:
    """An async session with a Loupe server; use as `async with Client(url) as c: ...`.

    `on_frame(raw, message)`, when given, sees every frame the server sends (a relay forwards them)."""

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8000/ws",
        token: str | None = None,
        timeout: float = 30.0,
        on_frame: FrameTap | None = None,
    ) -> None:
        self.url, self.token, self.timeout, self.on_frame = url, token, timeout, on_frame
        self.welcome: dict[str, Any] = {}
        self.model: dict[str, Any] = {}
        self.limits: dict[str, Any] = {}
        self.session = ""
        self._ws: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._ids = itertools.count(1)

    async def __aenter__(self) -> Client:
        self._ws = await websockets.connect(self.url, max_size=MAX_FRAME, open_timeout=self.timeout)
        self._reader = asyncio.create_task(self._read())
        hello: dict[str, Any] = {"protocol": PROTOCOL_VERSION, "client": "loupe.client"}
        if self.token:
            hello["token"] = self.token
        welcome = self.welcome = await self.call("hello", **hello)
        self.model, self.limits, self.session = welcome["model"], welcome["limits"], welcome["session"]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                if isinstance(frame, bytes):
                    msg = unpack(frame, CLIENT_LIMITS)
                    if self.on_frame is not None:
                        self.on_frame(frame, msg)
                    queue = self._pending.get(str(msg.get("id")))
                    if queue is not None:
                        queue.put_nowait(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            for queue in self._pending.values():
                queue.put_nowait({"type": "error", "code": "closed", "message": "the connection closed"})

    async def stream(self, type: str, **fields: Any) -> AsyncIterator[dict[str, Any]]:
        """Send a request and yield every frame the server sends for it, the final one included."""
        rid = f"c{next(self._ids)}"
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pending[rid] = queue
        try:
            await self._ws.send(pack({"type": type, "id": rid, **fields}))
            while True:
                msg = await queue.get()
                if msg["type"] == "error":
                    raise ServerError(msg["code"], msg["message"])
                yield msg
                if msg["type"] == "done" or type not in ENDS_WITH_DONE:
                    return
        finally:
            del self._pending[rid]

    async def send_frame(self, frame: bytes) -> None:
        """Send an encoded request of another client of this session (a relay); its replies go to `on_frame` only."""
        await self._ws.send(frame)

    async def call(self, type: str, **fields: Any) -> dict[str, Any]:
        """Send a request and return its reply (raises ServerError on an error frame): the final frame, or for
        a job ending with `done` its last frame that is not streamed (`analyze.result`, `vectors`, `runs`,
        `run.result`) with `done`'s `ms` and `cancelled` added; `done` itself when there is none."""
        reply: dict[str, Any] | None = None
        last: dict[str, Any] = {}
        async for msg in self.stream(type, **fields):
            if msg["type"] == "done" and reply is not None:
                return {**reply, "ms": msg["ms"], "cancelled": msg["cancelled"]}
            if msg["type"] not in STREAMED:
                reply = msg
            last = msg
        return last

    async def analyze(self, kind: AnalyzeKind, **fields: Any) -> dict[str, Any]:
        """One analysis (proto/README.md, "analyze"): the `analyze.result` frame's fields, its streamed
        `analyze.row` frames under "rows", and "ms"; ServerError on an error, `cancelled: True` if cancelled."""
        rows: list[dict[str, Any]] = []
        result: dict[str, Any] = {}
        async for msg in self.stream("analyze", kind=kind, **fields):
            if msg["type"] == "analyze.row":
                rows.append(msg)
            elif msg["type"] == "analyze.result":
                result = msg
            elif msg["type"] == "done":
                return {**result, "rows": rows, "ms": msg["ms"], "cancelled": msg["cancelled"]}
        return {**result, "rows": rows}

    async def ping(self) -> float:
        """Round-trip time in milliseconds."""
        t = asyncio.get_running_loop().time()
        await self.call("ping")
        return (asyncio.get_running_loop().time() - t) * 1000

    async def run(
        self,
        prompt: str | Sequence[int],
        capture: Sequence[str] = (),
        top_k: int = 10,
        dtype: FloatDType = "f32",
        summaries: bool | Sequence[SummaryPart] = False,
        answer: str | None = None,
        wrong: str | None = None,
        on_layer: Callable[[dict[str, Any]], None] | None = None,
        features: RunFeaturesRequest | None = None,
    ) -> RunOutput:
        """Run one prompt (text or token ids); `on_layer` sees each run.layer frame as it arrives;
        `features={"sae": id, "k": 16}` adds the SAE's top-k features per token (`out.features`)."""
        fields: dict[str, Any] = {"capture": list(capture), "top_k": top_k, "dtype": dtype}
        if features is not None:
            fields["features"] = features
        fields["summaries"] = summaries if isinstance(summaries, bool) else list(summaries)
        fields.update({"prompt": prompt} if isinstance(prompt, str) else {"tokens": list(prompt)})
        if answer is not None or wrong is not None:
            fields.update(answer=answer, wrong=wrong)
        out = RunOutput(np.zeros(0, np.int32), [])
        async for msg in self.stream("run", **fields):
            out.apply(msg)
            if msg["type"] == "run.layer" and on_layer is not None:
                on_layer(msg)
        return out

    async def generate(self, prompt: str, **options: Any) -> AsyncIterator[dict[str, Any]]:
        """Yield gen.token frames (options: max_new_tokens, temperature, seed, top_p, compare)."""
        async for msg in self.stream("generate", prompt=prompt, **options):
            if msg["type"] == "gen.token":
                yield msg

    async def attention_head(self, layer: int, head: int) -> np.ndarray:
        """The full [query, key] pattern of one head from this session's last run."""
        return cast("np.ndarray", (await self.call("attention.head", layer=layer, head=head, dtype="f32"))["pattern"])

    async def set_interventions(self, items: Sequence[Intervention]) -> list[Intervention]:
        return cast("list[Intervention]", (await self.call("interventions.set", items=list(items)))["items"])

    async def add_intervention(self, **item: Any) -> list[Intervention]:
        return cast("list[Intervention]", (await self.call("interventions.add", item=item))["items"])

    async def remove_interventions(self, *ids: str) -> list[Intervention]:
        return cast("list[Intervention]", (await self.call("interventions.remove", ids=list(ids)))["items"])

    async def clear_interventions(self) -> list[Intervention]:
        return cast("list[Intervention]", (await self.call("interventions.clear"))["items"])

    async def interventions(self) -> list[Intervention]:
        return cast("list[Intervention]", (await self.call("interventions.list"))["items"])

    async def save_run(self, name: str, prompt: str) -> list[SavedRun]:
        """Keep `prompt`'s clean run under `name`, for patch interventions' `source`."""
        items: list[SavedRun] = []
        async for msg in self.stream("runs.save", name=name, prompt=prompt):
            items = msg.get("items", items)
        return items

    async def save_vector(self, name: str, vector: np.ndarray) -> list[VectorInfo]:
        return cast(
            "list[VectorInfo]",
            (await self.call("vectors.save", name=name, vector=np.asarray(vector, np.float32)))["items"],
        )

    async def vector_from_prompts(
        self, name: str, positive: Sequence[str], negative: Sequence[str], layer: int, **options: Any
    ) -> np.ndarray:
        """Mean residual difference positive − negative at `layer`; saved under `name` and returned."""
        vector = np.zeros(0, np.float32)
        fields = {"name": name, "positive": list(positive), "negative": list(negative), "layer": layer}
        async for msg in self.stream("vectors.from_prompts", **fields, **options):
            vector = msg.get("vector", vector)
        return vector

    async def features_list(self) -> list[SaeInfo]:
        """The server's SAEs: id, hook, layer, d_in, d_sae, architecture, k, dashboard."""
        return cast("list[SaeInfo]", (await self.call("features.list"))["saes"])

    async def feature_info(self, sae: str, index: int) -> FeaturesInfoReply:
        """Dashboard data of one feature: density, max, histogram, promoted, suppressed, contexts, label."""
        return cast(FeaturesInfoReply, await self.call("features.info", sae=sae, index=index))

    async def feature_search(self, sae: str, by: SearchBy, k: int = 20, **query: Any) -> list[FeatureHit]:
        """[{index, score, label}] by "token" (query=), "text" (query=) or "span" (positions=, prompt=)."""
        return cast("list[FeatureHit]", (await self.call("features.search", sae=sae, by=by, k=k, **query))["results"])

    async def feature_contrast(self, sae: str, a: Sequence[str], b: Sequence[str], k: int = 20) -> list[ContrastHit]:
        """[{index, score, mean_a, mean_b, label}]: features more active on prompts `a` than on `b`."""
        return cast(
            "list[ContrastHit]", (await self.call("features.contrast", sae=sae, a=list(a), b=list(b), k=k))["results"]
        )

    async def cancel(self, target: str | None = None) -> list[RequestId]:
        return cast("list[RequestId]", (await self.call("cancel", **({"target": target} if target else {})))["targets"])


class SyncClient:
    """Blocking wrapper: the same methods as `Client`, run on a private event loop thread."""

    def __init__(
        self,
        url: str = "ws://127.0.0.1:8000/ws",
        token: str | None = None,
        timeout: float = 30.0,
        on_frame: FrameTap | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="loupe-client")
        self._thread.start()
        self._client = Client(url, token, timeout, on_frame)
        self._wait(self._client.__aenter__())

    def _wait(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            if hasattr(result, "__aiter__"):
                return self._wait(_collect(result))
            return self._wait(result) if asyncio.iscoroutine(result) else result

        return call

    def close(self) -> None:
        self._wait(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _collect(it: AsyncIterator[Any]) -> list[Any]:
    return [x async for x in it]
