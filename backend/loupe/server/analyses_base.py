"""What the `analyze` jobs share: a per-model cache and the session's view of the model; and the
`vectors.from_token` / `vectors.from_neuron` jobs (steering vectors from weights)."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loupe.analysis import embedding_vector, neuron_vector
from loupe.analysis.weights import token_id
from loupe.engine.plan import PassParts
from loupe.errors import Cancelled, LoupeError
from loupe.server.jobs import Commit, JobContext, enc
from loupe.server.state import SessionState
from loupe.wire import VectorsFromNeuronRequest, VectorsFromTokenRequest

if TYPE_CHECKING:
    from loupe.engine.model import HookedModel

_cache: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def cached(model: HookedModel, key: str, make: Callable[[], Any]) -> tuple[Any, bool]:
    """`make()` once per model (`key`); returns (value, whether it came from the cache)."""
    with _cache_lock:
        store = _cache.setdefault(model, {})
        if key in store:
            return store[key], True
    value = make()
    with _cache_lock:
        store[key] = value
    return value, False


class SessionModel:
    """The model as an analysis sees it: every run carries the session's interventions and the cancel flag."""

    def __init__(self, ctx: JobContext, interventions: bool = True) -> None:
        self._model, self._ctx = ctx.host.model, ctx
        self._ivs = list(ctx.snapshot.interventions) if interventions else []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)

    def pass_parts(self) -> PassParts:
        """What `run` adds, for passes run on a KV cache (a patch sweep's shared prefix)."""
        snap = self._ctx.snapshot
        return PassParts(self._model, self._ivs, snap.sources, snap.vectors, self._ctx.cancel)

    def run(self, inputs: Any, **kw: Any) -> Any:
        if self._ctx.cancel.is_set():
            raise Cancelled("cancelled")
        extra = list(kw.pop("interventions", None) or [])
        snap = self._ctx.snapshot
        return self._model.run(
            inputs,
            interventions=[*self._ivs, *extra],
            sources=snap.sources,
            vectors=snap.vectors,
            cancel=self._ctx.cancel,
            **kw,
        )


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
