"""`features.*` requests and the `features` part of `run.layer`: the server adapts loupe.features."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from loupe.engine.result import FeatureActs
from loupe.errors import LoupeError
from loupe.features import search
from loupe.features.info import check_index, feature_info, feature_label
from loupe.server.helpers import enc, prompt_tokens
from loupe.server.host import Commit, JobContext
from loupe.server.state import SessionState
from loupe.wire import FeaturesContrastRequest, FeaturesInfoRequest, FeaturesSearchRequest

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel
    from loupe.features.sae import SAE


def list_reply(model: HookedModel) -> dict[str, Any]:
    """The SAEs this server holds."""
    saes = [
        {
            "id": s.id,
            "hook": s.hook,
            "layer": s.layer,
            "d_in": s.cfg.d_in,
            "d_sae": s.d_sae,
            "architecture": s.cfg.architecture,
            "k": s.cfg.k,
            "dashboard": s.dashboard is not None,
        }
        for s in model.saes.values()
    ]
    return {"type": "features.list", "saes": saes}


def sae_of(model: HookedModel, sae_id: str, what: str) -> SAE:
    if sae_id not in model.saes:
        known = sorted(model.saes) or "none"
        raise LoupeError("not_found", f"{what}.sae: this server has no SAE {sae_id!r}; it has {known}")
    return model.saes[sae_id]


def layer_part(sae: SAE, x: torch.Tensor, k: int) -> dict[str, Any]:
    """The `features` part of a run.layer frame from the activation x [pos, d_in] at the SAE's hook."""
    with torch.no_grad():
        ids, values = FeatureActs(sae.id, sae.hook, sae.encode(x), k).top()
    return {"sae": sae.id, "hook": sae.hook, "ids": enc(ids, "i32"), "values": enc(values, "f32")}


def info_job(ctx: JobContext) -> Commit:
    model, req = ctx.host.model, ctx.request.args(FeaturesInfoRequest)
    sae = sae_of(model, req["sae"], "features.info")
    check_index(sae, req["index"])
    frame = {"type": "features.info", "sae": sae.id, "index": req["index"]}
    frame |= feature_info(model, sae, sae.dashboard, req["index"])
    return _reply(frame)


def search_job(ctx: JobContext) -> Commit:
    model, req = ctx.host.model, ctx.request.args(FeaturesSearchRequest)
    sae, by, k, query = sae_of(model, req["sae"], "features.search"), req["by"], req["k"], req["query"] or ""
    if by in ("token", "text") and not query:
        raise LoupeError("bad_message", f"features.search.query: required for by {by!r}")
    if by == "token":
        hits = search.by_token(model, sae, query, k)
    elif by == "text":
        hits = search.by_text(model, sae.dashboard, sae, query, k)
    else:
        if req["positions"] is None:
            raise LoupeError("bad_message", "features.search.positions: required for by 'span'")
        if req["prompt"] is not None:
            tokens = prompt_tokens(ctx, req["prompt"], None)
        elif ctx.last_run is not None:
            tokens = ctx.last_run.tokens
        else:
            raise LoupeError("not_found", "features.search: no prompt given and this session has no run yet")
        hits = search.by_span(model, sae, tokens, req["positions"], k, **_run_kwargs(ctx))
    results = [{"index": i, "score": s, "label": feature_label(model, sae, sae.dashboard, i)} for i, s in hits]
    return _reply({"type": "features.search", "sae": sae.id, "by": by, "results": results})


def contrast_job(ctx: JobContext) -> Commit:
    model, lim, req = ctx.host.model, ctx.host.limits, ctx.request.args(FeaturesContrastRequest)
    sae = sae_of(model, req["sae"], "features.contrast")
    for side in ("a", "b"):
        if len(req[side]) > lim.max_contrast_prompts:
            raise LoupeError("too_large", f"features.contrast.{side}: at most {lim.max_contrast_prompts} prompts")
        for prompt in req[side]:
            prompt_tokens(ctx, prompt, None)  # empty or over max_prompt_tokens: a clear error
    hits = search.contrast(model, sae, req["a"], req["b"], req["k"], **_run_kwargs(ctx))
    results = [
        {"index": i, "score": s, "mean_a": ma, "mean_b": mb, "label": feature_label(model, sae, sae.dashboard, i)}
        for i, s, ma, mb in hits
    ]
    return _reply({"type": "features.contrast", "sae": sae.id, "results": results})


def _run_kwargs(ctx: JobContext) -> dict[str, Any]:
    """Runs of a search or contrast carry the session's interventions, as the run frames' features do."""
    snap = ctx.snapshot
    return {"interventions": snap.interventions, "sources": snap.sources, "vectors": snap.vectors, "cancel": ctx.cancel}


def _reply(frame: dict[str, Any]) -> Commit:
    def commit(state: SessionState) -> dict[str, Any]:
        return frame

    return commit
