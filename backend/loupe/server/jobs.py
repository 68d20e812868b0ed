"""The host (model, worker threads, batching scheduler), the job context, and the model jobs generate,
runs.save and vectors.from_prompts.

A job function runs on a worker thread of the `Host`, streams frames through `JobContext.emit`
(encoded on that thread, queued with `loop.call_soon_threadsafe`) and may return a `Commit`,
which the session applies on the event loop to store results and build the final reply.
Forward passes take turns across sessions on the model's lock (engine/turns.py); `Host.forward` puts a
`run` and its clean twin into the cross-session batching scheduler when there is one.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from loupe.analysis.lens_decoder import lens_decoder
from loupe.analysis.steering import steering_vector
from loupe.codec import encode_tensor, pack
from loupe.engine.result import RunResult
from loupe.engine.scheduler import Scheduler
from loupe.engine.turns import as_key
from loupe.errors import Cancelled, LoupeError
from loupe.hooks.context import LayerCallback
from loupe.server.limits import Limits
from loupe.server.protocol import Request
from loupe.server.state import LastRun, SessionState, Snapshot
from loupe.server.summaries import BatchLens, LensSlot
from loupe.wire import GenerateRequest, RunsSaveRequest, VectorsFromPromptsRequest

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

T = TypeVar("T")
Commit = Callable[[SessionState], "dict[str, Any] | None"]


class Host:
    """The one model of the server, the worker threads jobs run on, and the cross-session batching scheduler."""

    def __init__(self, model: HookedModel, limits: Limits, workers: int = 8, batching: bool = True) -> None:
        self.model = model
        self.limits = limits
        self.lens = lens_decoder(model)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="loupe-job")
        self.scheduler = Scheduler(model, layer_hook=BatchLens(self.lens)) if batching else None

    async def execute(self, fn: Callable[[], T], key: str) -> T:
        """Run `fn` on a worker thread; its forward passes take turns with other sessions' as `key`."""

        def keyed() -> T:
            with as_key(key):
                return fn()

        return await asyncio.get_running_loop().run_in_executor(self.executor, keyed)

    def forward(
        self,
        key: str,
        tokens: torch.Tensor,
        capture: list[str],
        stream: list[str],
        snapshot: Snapshot,
        on_layer: LayerCallback,
        cancel: threading.Event,
        slot: LensSlot | None = None,
    ) -> tuple[RunResult, torch.Tensor]:
        """The intervened run of `tokens` [1, pos] (streamed to `on_layer`, row 0 of its tensors) and the
        clean run's last-position logits; batched with other sessions' runs when there is a scheduler.
        `stream` points reach `on_layer` only, so per-layer summaries do not pile up in memory; `slot` receives
        the row's lens, decoded with the whole batch's."""
        intervened = bool(snapshot.interventions)
        if self.scheduler is None:
            batch = tokens.repeat(2, 1) if intervened else tokens
            res = self.model.run(
                batch,
                capture=capture,
                interventions=snapshot.rows([0]),
                on_layer=on_layer,
                sources=snapshot.sources,
                vectors=snapshot.vectors,
                cancel=cancel,
                stream=stream,
            )
            return res, res.logits[-1, -1]
        with self.scheduler.together():  # the clean row rides in the same forward pass
            main = self.scheduler.submit(
                key,
                tokens,
                capture,
                snapshot.interventions,
                on_layer,
                snapshot.sources,
                snapshot.vectors,
                cancel,
                stream,
                slot,
            )
            clean = self.scheduler.submit(key, tokens, cancel=cancel) if intervened else None
        res = _wait(main, cancel)
        return res, (_wait(clean, cancel) if clean is not None else res).logits[0, -1]

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def _wait(future: Future[RunResult], cancel: threading.Event) -> RunResult:
    """The future's result; Cancelled as soon as `cancel` is set (the batch may still be running)."""
    while True:
        try:
            return future.result(timeout=0.05)
        except TimeoutError:
            if cancel.is_set():
                raise Cancelled("cancelled") from None


@dataclass
class JobContext:
    host: Host
    session: str  # the session id: the scheduler's fairness key
    request: Request
    snapshot: Snapshot
    cancel: threading.Event
    emit_frame: Callable[[bytes], None]
    last_run: LastRun | None = None

    def emit(self, message: dict[str, Any]) -> None:
        self.emit_frame(pack({**message, "id": self.request.id}))


def enc(t: torch.Tensor, dtype: str) -> dict[str, Any]:
    return encode_tensor(t, "i32" if not t.is_floating_point() else dtype)


def prompt_tokens(ctx: JobContext, prompt: str | None, tokens: Any) -> torch.Tensor:
    """The request's prompt as ids [1, pos], checked against the prompt limit."""
    model, lim = ctx.host.model, ctx.host.limits
    if (prompt is None) == (tokens is None):
        raise LoupeError("bad_message", f"{ctx.request.type}: give exactly one of 'prompt' and 'tokens'")
    ids = model.to_tokens(prompt if prompt is not None else torch.as_tensor(list(tokens)).long())
    if ids.shape[1] > lim.max_prompt_tokens:
        raise LoupeError("too_long", f"the prompt has {ids.shape[1]} tokens; the limit is {lim.max_prompt_tokens}")
    return ids


def capture_bytes(model: HookedModel, names: list[str], pos: int, itemsize: int) -> int:
    """Bytes of one row of the given hook points for a `pos`-token prompt."""
    return sum(
        math.prod(1 if s == "batch" else (model.cfg.dim(s) or pos) for s in model.hook_shape(n)) * itemsize
        for n in names
    )


def preds(model: HookedModel, logits: torch.Tensor, k: int) -> list[dict[str, Any]]:
    probs = torch.softmax(logits.float(), dim=-1)
    top = probs.topk(k)
    ids = top.indices.tolist()
    return [
        {"token": i, "str": s, "prob": float(p), "logit": float(logits[i])}
        for i, s, p in zip(ids, model.decode_each(ids), top.values.tolist(), strict=True)
    ]


def generate_job(ctx: JobContext) -> Commit:
    """Stream gen.token frames; with `compare`, row 1 of the same batch is the baseline (no interventions)."""
    model, lim, req = ctx.host.model, ctx.host.limits, ctx.request.args(GenerateRequest)
    if req["max_new_tokens"] > lim.max_new_tokens:
        raise LoupeError("too_long", f"generate.max_new_tokens: the limit is {lim.max_new_tokens}")
    prompt_tokens(ctx, req["prompt"], None)  # checks the length
    branches = ["steered", "baseline"] if req["compare"] else ["steered"]
    steps = model.generate(
        [req["prompt"]] * len(branches),
        max_new_tokens=req["max_new_tokens"],
        temperature=req["temperature"],
        seed=req["seed"],
        top_p=req["top_p"],
        interventions=ctx.snapshot.rows([0]),
        vectors=ctx.snapshot.vectors,
        sources=ctx.snapshot.sources,
        cancel=ctx.cancel,
    )
    texts = ["" for _ in branches]
    ids: list[list[int]] = [[] for _ in branches]
    stopped = [False for _ in branches]
    for step in steps:
        for row, branch in enumerate(branches):
            if stopped[row]:
                continue
            stopped[row] = step.finished[row]
            if stopped[row]:  # the end-of-sequence token ends the branch; it is not text
                continue
            ids[row].append(step.tokens[row])
            text = new_text(model, ids[row], texts[row])
            ctx.emit(
                {
                    "type": "gen.token",
                    "branch": branch,
                    "index": step.index,
                    "token": step.tokens[row],
                    "text": text,
                    "prob": step.probs[row],
                }
            )
            texts[row] += text
        if all(stopped):
            break
    done_text = dict(zip(branches, texts, strict=True))

    def commit(state: SessionState) -> dict[str, Any]:
        return {"type": "done", "text": done_text}

    return commit


def new_text(model: HookedModel, ids: list[int], sent: str) -> str:
    """The text that the last of `ids` completes after `sent`: "" while it ends inside a multi-byte character
    (a byte-level token of an emoji), then the whole character with the token that completes it."""
    full = model.tokenizer.decode(ids)
    return "" if full.endswith("\ufffd") else full[len(sent) :]


def save_run_job(ctx: JobContext) -> Commit:
    """Run a prompt clean and keep it as a patch source (the engine captures what patches need, lazily)."""
    req = ctx.request.args(RunsSaveRequest)
    tokens = prompt_tokens(ctx, req["prompt"], req["tokens"])
    result = ctx.host.model.run(tokens, cancel=ctx.cancel)

    def commit(state: SessionState) -> dict[str, Any]:
        state.save_run(req["name"], result)
        return {"type": "runs", "items": state.runs_items()}

    return commit


def vectors_job(ctx: JobContext) -> Commit:
    """`vectors.from_prompts`: the request checked against the limits, then `loupe.analysis.steering_vector`."""
    model, lim, req = ctx.host.model, ctx.host.limits, ctx.request.args(VectorsFromPromptsRequest)
    if req["layer"] >= model.cfg.n_layers:
        raise LoupeError("bad_message", f"vectors.from_prompts.layer: expected < {model.cfg.n_layers}")
    hook = req["hook"] or f"blocks.{req['layer']}.hook_resid_post"
    model.points[hook]  # raises unknown_hook
    total = 0
    for side in ("positive", "negative"):
        prompts = req[side]
        if len(prompts) > lim.max_contrast_prompts:
            raise LoupeError("too_large", f"vectors.from_prompts.{side}: at most {lim.max_contrast_prompts} prompts")
        longest = max(model.encode(p)[0].shape[1] for p in prompts)
        if longest > lim.max_prompt_tokens:
            raise LoupeError(
                "too_long", f"vectors.from_prompts.{side}: a prompt is over {lim.max_prompt_tokens} tokens"
            )
        total += sum(model.encode(p)[0].shape[1] for p in prompts)
    if total > lim.max_job_tokens:
        raise LoupeError(
            "too_large", f"vectors.from_prompts: {total} prompt tokens in all; the limit is {lim.max_job_tokens}"
        )
    # in pieces: other sessions' runs go between them
    pos, neg, layer = req["positive"], req["negative"], req["layer"]
    vector = steering_vector(model, pos, neg, layer, req["position"], hook, lim.piece_tokens, ctx.cancel)

    def commit(state: SessionState) -> dict[str, Any]:
        state.save_vector(req["name"], vector, "prompts")
        return {"type": "vectors", "items": state.vectors_items(), "vector": enc(vector, "f32")}

    return commit
