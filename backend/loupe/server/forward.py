"""Jobs that show the model at work on one prompt: `run` (per-layer frames as layers finish, a few layers at
a time when batched), `attention.head` (one head of the last run) and `generate` (streamed tokens, steered and
baseline)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import torch

from loupe.analysis.weights import token_id
from loupe.errors import LoupeError
from loupe.server.features import layer_part, sae_of
from loupe.server.helpers import capture_bytes, enc, preds, prompt_tokens
from loupe.server.host import Commit, JobContext
from loupe.server.state import LastRun, SessionState
from loupe.server.summaries import PARTS, LensSlot, layer_summary, needed_hooks
from loupe.wire import AttentionHeadRequest, GenerateRequest, RunRequest

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel


def run_job(ctx: JobContext) -> Commit:
    model, lim, req = ctx.host.model, ctx.host.limits, ctx.request.args(RunRequest)
    if req["top_k"] > lim.max_top_k:
        raise LoupeError("bad_message", f"run.top_k: expected an integer in 1..{lim.max_top_k}, got {req['top_k']}")
    if (req["answer"] is None) != (req["wrong"] is None):
        raise LoupeError("bad_message", "run: give both 'answer' and 'wrong', or neither")
    tokens = prompt_tokens(ctx, req["prompt"], req["tokens"])
    pos, dtype = tokens.shape[1], req["dtype"]
    capture = model.match_hooks(req["capture"]) if req["capture"] else []
    size = capture_bytes(model, capture, pos, 2 if dtype == "f16" else 4)
    if size > lim.max_capture_bytes:
        raise LoupeError("too_large", f"the capture needs {size} bytes; the limit is {lim.max_capture_bytes}")
    answer = None
    if req["answer"] is not None and req["wrong"] is not None:
        answer = (token_id(model, req["answer"], "run.answer"), token_id(model, req["wrong"], "run.wrong"))
    parts = PARTS if req["summaries"] is True else tuple(req["summaries"] or ())
    feats = req["features"]
    sae = sae_of(model, feats["sae"], "run.features") if feats is not None else None
    n_layers = model.cfg.n_layers
    patterns = [f"blocks.{layer}.attn.hook_pattern" for layer in range(n_layers)]
    keep = capture_bytes(model, patterns, pos, 2) <= lim.last_run_pattern_bytes
    internal = needed_hooks(n_layers, parts) + (patterns if keep else []) + ([sae.hook] if sae else [])
    wanted = set(capture)
    intervened = bool(ctx.snapshot.interventions)
    str_tokens = model.decode_each(tokens[0].tolist())
    ctx.emit({"type": "run.tokens", "tokens": enc(tokens[0], "i32"), "str_tokens": str_tokens})
    lens = ctx.host.lens if "lens" in parts else None
    slot = LensSlot() if lens is not None else None
    kept: list[torch.Tensor] = []
    start = time.perf_counter()

    def on_layer(layer: int, tensors: dict[str, torch.Tensor]) -> None:
        frame: dict[str, Any] = {
            "type": "run.layer",
            "layer": layer,
            "tensors": {n: enc(t[0], dtype) for n, t in tensors.items() if n in wanted},
        }
        if parts:
            summary = layer_summary(lens, parts, tensors, layer, slot)
            frame["summary"] = {k: _summary_value(v, dtype) for k, v in summary.items()}
        if sae is not None and feats is not None and layer == sae.layer:
            frame["features"] = layer_part(sae, tensors[sae.hook][0], feats["k"])
        if keep:
            kept.append(tensors[f"blocks.{layer}.attn.hook_pattern"][0].to(torch.float16))
        frame["ms"] = (time.perf_counter() - start) * 1000
        ctx.emit(frame)

    capture = sorted(wanted, key=model.hook_points.index)
    stream = sorted(set(internal) - wanted, key=model.hook_points.index)
    res, clean = ctx.host.forward(ctx.session, tokens, capture, stream, ctx.snapshot, on_layer, ctx.cancel, slot)
    last = res.logits[0, -1]
    result: dict[str, Any] = {
        "type": "run.result",
        "top_k": preds(model, last, req["top_k"]),
        "clean": preds(model, clean, req["top_k"]),
        "intervened": intervened,
        "tensors": {
            n: enc(res.cache[n][0], dtype)
            for n in capture
            if model.points[n].layer is None and n not in ("hook_embed", "hook_pos_embed")
        },
    }
    if answer is not None:
        a, w = answer
        result["logit_diff"] = {
            "answer": req["answer"],
            "wrong": req["wrong"],
            "answer_token": a,
            "wrong_token": w,
            "value": float(last[a] - last[w]),
            "clean": float(clean[a] - clean[w]),
        }
    ctx.emit(result)
    last_run = LastRun(tokens, str_tokens, ctx.snapshot, kept if keep else None)

    def commit(state: SessionState) -> None:
        state.last_run = last_run

    return commit


def _summary_value(v: Any, dtype: str) -> Any:
    if isinstance(v, torch.Tensor):
        return enc(v, dtype)
    if isinstance(v, dict):
        return {k: _summary_value(x, dtype) for k, x in v.items()}
    return v


def attention_head_job(ctx: JobContext) -> Commit:
    model, req, last = ctx.host.model, ctx.request.args(AttentionHeadRequest), ctx.last_run
    if last is None:
        raise LoupeError("not_found", "attention.head: this session has no run yet; send a run first")
    layer, head = req["layer"], req["head"]
    if layer >= model.cfg.n_layers or head >= model.cfg.n_heads:
        raise LoupeError(
            "bad_message",
            f"attention.head: layer must be < {model.cfg.n_layers} and head < {model.cfg.n_heads}, "
            f"got layer {layer}, head {head}",
        )
    if last.patterns is not None:
        pattern = last.patterns[layer][head]
    else:  # too big to keep: recompute this layer with the same interventions
        name = f"blocks.{layer}.attn.hook_pattern"
        intervened = bool(last.snapshot.interventions)
        res = model.run(
            last.tokens,
            capture=[name],
            interventions=last.snapshot.interventions if intervened else None,
            sources=last.snapshot.sources,
            vectors=last.snapshot.vectors,
            cancel=ctx.cancel,
        )
        pattern = res.cache[name][0, head]
    frame = {
        "type": "attention.head",
        "layer": layer,
        "head": head,
        "pattern": enc(pattern, req["dtype"]),
        "str_tokens": last.str_tokens,
    }

    def commit(state: SessionState) -> dict[str, Any]:
        return frame

    return commit


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
