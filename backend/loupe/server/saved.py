"""Jobs that fill the session's stores: `runs.save` (a patch source) and the steering vectors `vectors.from_prompts`
(`loupe.analysis.steering_vector`), `vectors.from_token` and `vectors.from_neuron` (from the weights)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loupe.analysis import embedding_vector, neuron_vector
from loupe.analysis.steering import steering_vector
from loupe.analysis.weights import token_id
from loupe.errors import LoupeError
from loupe.server.helpers import enc, prompt_tokens
from loupe.server.host import Commit, JobContext
from loupe.server.state import SessionState
from loupe.wire import (
    RunsSaveRequest,
    VectorsFromNeuronRequest,
    VectorsFromPromptsRequest,
    VectorsFromTokenRequest,
)

if TYPE_CHECKING:
    pass


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
    vector = steering_vector(
        model, pos, neg, layer, req["position"], hook=hook, piece_tokens=lim.piece_tokens, cancel=ctx.cancel
    )

    def commit(state: SessionState) -> dict[str, Any]:
        state.save_vector(req["name"], vector, "prompts")
        return {"type": "vectors", "items": state.vectors_items(), "vector": enc(vector, "f32")}

    return commit


def vector_job(ctx: JobContext) -> Commit:
    """`vectors.from_token` (a token's embedding row) and `vectors.from_neuron` (an MLP neuron's output row)."""
    model = ctx.host.model
    req: VectorsFromTokenRequest | VectorsFromNeuronRequest
    if ctx.request.type == "vectors.from_token":
        req = ctx.request.args(VectorsFromTokenRequest)
        vector = embedding_vector(
            model, token_id(model, req["token"], "vectors.from_token.token"), normalize=req["normalize"]
        )
        origin = "token"
    else:
        req = ctx.request.args(VectorsFromNeuronRequest)
        layer, index = req["layer"], req["index"]
        if layer >= model.cfg.n_layers or index >= model.cfg.d_mlp:
            raise LoupeError(
                "bad_message",
                f"vectors.from_neuron: no neuron {layer}.{index} ({model.cfg.n_layers} x {model.cfg.d_mlp})",
            )
        vector, origin = neuron_vector(model, layer, index, normalize=req["normalize"]), "neuron"

    def commit(state: SessionState) -> dict[str, Any]:
        state.save_vector(req["name"], vector.float(), origin)
        return {"type": "vectors", "items": state.vectors_items(), "vector": enc(vector.float(), "f32")}

    return commit
