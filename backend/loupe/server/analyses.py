"""`analyze` jobs: each kind adapts a `loupe.analysis` function to the wire, on the host's worker threads.

Each kind reads the request's fields (proto/README.md, "analyze"), may stream `analyze.row` frames as
parts finish, and returns a Commit whose reply is the `analyze.result`; the session then sends `done`.
Analyses of prompts run through `SessionModel`, so they see the session's interventions and stop
within a layer when the job is cancelled. Results that depend only on the model (head scores on random
tokens, composition scores, the word-token subset of QK/OV tables) are cached per model, i.e. per server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from loupe.analysis import (
    attribution_patching,
    composition_scores,
    direct_logit_attribution,
    logit_diff,
    logit_lens,
    patch_sweep,
    qk_ov,
    word_tokens,
)
from loupe.analysis.head_scores import HeadScores, all_head_scores
from loupe.analysis.patching import PatchResult
from loupe.analysis.weights import token_id
from loupe.errors import LoupeError
from loupe.server.helpers import cached, enc, prompt_tokens
from loupe.server.host import Commit, JobContext
from loupe.server.session_model import SessionModel
from loupe.server.state import SessionState
from loupe.wire import AnalyzeKind, AnalyzeRequest

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.engine.view import ModelView


V = TypeVar("V")


def _model(ctx: JobContext, interventions: bool | None = None) -> ModelView:
    """The model as the analysis sees it: with the session's interventions unless the request (or the kind)
    says otherwise, stopping when the job is cancelled."""
    use = _args(ctx)["interventions"] if interventions is None else interventions
    return SessionModel(ctx, use)


def _args(ctx: JobContext) -> AnalyzeRequest:
    return ctx.request.args(AnalyzeRequest)


def _need(ctx: JobContext, name: str, value: V | None) -> V:
    """`value`, the request's field `name`, which the kind requires."""
    if value is None:
        raise LoupeError("bad_message", f"analyze.{name}: required for kind {_args(ctx)['kind']!r}")
    return value


def _prompt(ctx: JobContext) -> torch.Tensor:
    """The request's prompt (or tokens) as ids [1, pos]; without one, the session's last run."""
    req = _args(ctx)
    if req["prompt"] is None and req["tokens"] is None:
        if ctx.last_run is None:
            raise LoupeError("not_found", "analyze: no prompt given and the session has no run yet")
        return ctx.last_run.tokens
    return prompt_tokens(ctx, req["prompt"], req["tokens"])


def _position(ctx: JobContext, n_pos: int) -> int:
    p = _args(ctx)["position"]
    if not -n_pos <= p < n_pos:
        raise LoupeError("bad_message", f"analyze.position: expected -{n_pos}..{n_pos - 1} for a {n_pos}-token prompt")
    return p % n_pos


def _layer_head(ctx: JobContext) -> tuple[int, int]:
    cfg = ctx.host.model.cfg
    req = _args(ctx)
    layer, head = _need(ctx, "layer", req["layer"]), _need(ctx, "head", req["head"])
    if layer >= cfg.n_layers or head >= cfg.n_heads:
        raise LoupeError(
            "bad_message", f"analyze: no head L{layer}H{head} ({cfg.n_layers} layers x {cfg.n_heads} heads)"
        )
    return layer, head


def _top(labels: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"label": name, "value": value} for name, value in labels]


def lens_kind(ctx: JobContext) -> dict[str, Any]:
    model, req = ctx.host.model, _args(ctx)
    k = req["k"] or 5
    if k > ctx.host.limits.max_top_k:
        raise LoupeError("bad_message", f"analyze.k: expected an integer in 1..{ctx.host.limits.max_top_k}, got {k}")
    tokens = _prompt(ctx)
    pos = _position(ctx, tokens.shape[1])
    target = token_id(model, req["target"], "analyze.target") if req["target"] is not None else None
    dt = req["dtype"]

    def on_row(row: Any) -> None:
        ids = row.tokens[pos].tolist()
        ctx.emit(
            {
                "type": "analyze.row",
                "kind": "logit_lens",
                "index": row.index,
                "label": row.label,
                "tokens": enc(row.tokens[pos].int(), "i32"),
                "probs": enc(row.probs[pos], dt),
                "top_str": model.decode_each(ids),
            }
        )

    lens = logit_lens(_model(ctx), tokens, k=k, target=target, on_row=on_row)
    out: dict[str, Any] = {
        "position": pos,
        "str_tokens": lens.str_tokens,
        "labels": [r.label for r in lens.rows],
        "tokens": enc(lens.tokens[:, pos].int(), "i32"),
        "probs": enc(lens.probs[:, pos], dt),
        "top_str": [row[pos] for row in lens.top_str],
    }
    if lens.target_probs is not None:
        out["target"] = target
        out["target_prob"] = enc(lens.target_probs[:, pos], dt)
    if req["grid"]:  # the top-1 token at every position: a whole lens table, e.g. the clean run's
        out["grid"] = {
            "tokens": enc(lens.tokens[:, :, 0].int(), "i32"),
            "probs": enc(lens.probs[:, :, 0], dt),
            "top_str": [[top[0] for top in row] for row in lens.top_str],
        }
    return out


def dla_kind(ctx: JobContext) -> dict[str, Any]:
    model, req = ctx.host.model, _args(ctx)
    tokens = _prompt(ctx)
    pos = _position(ctx, tokens.shape[1])
    a = token_id(model, _need(ctx, "answer", req["answer"]), "analyze.answer")
    w = token_id(model, req["wrong"], "analyze.wrong") if req["wrong"] is not None else None
    d = direct_logit_attribution(_model(ctx), tokens, a, w, position=pos)
    out = {k: v for k, v in d.to_dict().items() if k not in ("answer", "wrong")}
    out.update(answer_token=a, wrong_token=w, str_tokens=model.decode_each(tokens[0].tolist()), top=_top(d.top(10)))
    return {k: enc(v, req["dtype"]) if isinstance(v, torch.Tensor) else v for k, v in out.items()}


def _patch_setup(ctx: JobContext) -> tuple[ModelView, torch.Tensor, torch.Tensor, Any]:
    model, req = ctx.host.model, _args(ctx)
    clean = _prompt(ctx)
    corrupt = prompt_tokens(ctx, _need(ctx, "corrupt", req["corrupt"]), None)
    if corrupt.shape != clean.shape:
        raise LoupeError(
            "bad_message",
            f"analyze.corrupt: has {corrupt.shape[1]} tokens, the clean prompt {clean.shape[1]}; they must match "
            "(swap words that are one token each)",
        )
    a = token_id(model, _need(ctx, "answer", req["answer"]), "analyze.answer")
    w = token_id(model, _need(ctx, "wrong", req["wrong"]), "analyze.wrong")
    return _model(ctx), clean, corrupt, logit_diff(model, a, w)


def _patch_result(ctx: JobContext, res: PatchResult, clean: torch.Tensor) -> dict[str, Any]:
    out = {k: enc(v, _args(ctx)["dtype"]) if isinstance(v, torch.Tensor) else v for k, v in res.to_dict().items()}
    out.update(top=_top(res.top(10)), str_tokens=ctx.host.model.decode_each(clean[0].tolist()))
    return out


def _rows_per_piece(ctx: JobContext, clean: torch.Tensor) -> int:
    """`batch_size`, cut so that one forward pass holds at most `max_batch_tokens` tokens (at least one row)."""
    return max(1, min(_args(ctx)["batch_size"], ctx.host.limits.max_batch_tokens // clean.shape[1]))


def patch_kind(ctx: JobContext) -> dict[str, Any]:
    req = _args(ctx)
    m, clean, corrupt, metric = _patch_setup(ctx)
    n_rows = ctx.host.model.cfg.n_layers

    def on_row(row: Any) -> None:
        frame = {k: enc(v, req["dtype"]) if isinstance(v, torch.Tensor) else v for k, v in row.to_dict().items()}
        ctx.emit({"type": "analyze.row", "kind": "patch", **frame, "n_rows": n_rows})

    rows = _rows_per_piece(ctx, clean)
    res = patch_sweep(m, clean, corrupt, metric, req["over"], req["direction"], rows, on_row=on_row)
    return _patch_result(ctx, res, clean)


def attribution_kind(ctx: JobContext) -> dict[str, Any]:
    req = _args(ctx)
    m, clean, corrupt, metric = _patch_setup(ctx)
    return _patch_result(ctx, attribution_patching(m, clean, corrupt, metric, req["over"], req["direction"]), clean)


def head_scores_kind(ctx: JobContext) -> dict[str, Any]:
    """`loupe.analysis.all_head_scores` on the model without the session's interventions (cached per model)."""

    def compute() -> dict[str, HeadScores]:
        def on_row(layer: int, _: dict[str, torch.Tensor]) -> None:
            ctx.emit({"type": "analyze.row", "kind": "head_scores", "index": layer})

        return all_head_scores(_model(ctx, interventions=False), on_row=on_row)

    scores, hit = cached(ctx.host.model, "head_scores", compute)
    dt = _args(ctx)["dtype"]
    first = next(iter(scores.values()))
    return {
        "scores": {k: enc(v.scores, dt) for k, v in scores.items()},
        "seq_len": first.seq_len,
        "batch": first.batch,
        "cached": hit,
    }


def _pairs(model: HookedModel, pairs: Any, dt: str) -> dict[str, Any]:
    return {
        "rows": enc(pairs.rows.int(), "i32"),
        "cols": enc(pairs.cols.int(), "i32"),
        "values": enc(pairs.values, dt),
        "rows_str": model.decode_each(pairs.rows.tolist()),
        "cols_str": model.decode_each(pairs.cols.tolist()),
    }


def qk_ov_kind(ctx: JobContext) -> dict[str, Any]:
    model, req = ctx.host.model, _args(ctx)
    layer, head = _layer_head(ctx)
    k = req["k"] or 10
    if k > ctx.host.limits.max_top_k:
        raise LoupeError("bad_message", f"analyze.k: expected an integer in 1..{ctx.host.limits.max_top_k}, got {k}")
    words, _ = cached(model, "word_tokens", lambda: word_tokens(model))
    c = qk_ov(model, layer, head, tokens=words, k=k)
    return {
        "layer": layer,
        "head": head,
        "ov_top": _pairs(model, c.ov_top, req["dtype"]),
        "ov_bottom": _pairs(model, c.ov_bottom, req["dtype"]),
        "qk_top": _pairs(model, c.qk_top, req["dtype"]),
        "copying_score": c.copying_score,
        "qk_same_token_score": c.qk_same_token_score,
        "ov_self_top5": c.ov_self_top5,
    }


def composition_kind(ctx: JobContext) -> dict[str, Any]:
    comp, hit = cached(ctx.host.model, "composition", lambda: composition_scores(ctx.host.model))
    out: dict[str, Any] = {k: enc(getattr(comp, k), _args(ctx)["dtype"]) for k in ("q", "k", "v")}
    out["top"] = {k: [{"src": a, "dst": b, "value": s} for a, b, s in comp.top(k, 10)] for k in ("q", "k", "v")}
    out["cached"] = hit
    return out


RUNNERS: dict[AnalyzeKind, Callable[[JobContext], dict[str, Any]]] = {
    "logit_lens": lens_kind,
    "dla": dla_kind,
    "patch": patch_kind,
    "attribution_patching": attribution_kind,
    "head_scores": head_scores_kind,
    "qk_ov": qk_ov_kind,
    "composition": composition_kind,
}


def analyze_job(ctx: JobContext) -> Commit:
    kind = _args(ctx)["kind"]
    result = {"type": "analyze.result", "kind": kind, **RUNNERS[kind](ctx)}

    def commit(state: SessionState) -> dict[str, Any]:
        return result

    return commit
