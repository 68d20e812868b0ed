"""What each request type does besides the connection's own (hello, ping, cancel): the model jobs that run on
the host's worker threads (`JOBS`), and the cheap requests that read or change the session's stores of
interventions, saved runs and vectors, answered on the event loop (`STORES`). Also the `model` object of
welcome and the token check of hello."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any, cast

from loupe.server.analyses import analyze_job
from loupe.server.features import contrast_job, info_job, search_job
from loupe.server.forward import attention_head_job, generate_job, run_job
from loupe.server.host import Commit, Host, JobContext
from loupe.server.protocol import Request
from loupe.server.saved import save_run_job, vector_job, vectors_job
from loupe.server.state import SessionState
from loupe.wire import (
    InterventionsAddRequest,
    InterventionsRemoveRequest,
    InterventionsSetRequest,
    RunsRemoveRequest,
    VectorsRemoveRequest,
    VectorsSaveRequest,
)

JOBS: dict[str, Callable[[JobContext], Commit]] = {
    "run": run_job,
    "generate": generate_job,
    "runs.save": save_run_job,
    "vectors.from_prompts": vectors_job,
    "attention.head": attention_head_job,
    "analyze": analyze_job,
    "vectors.from_token": vector_job,
    "vectors.from_neuron": vector_job,
    "features.info": info_job,
    "features.search": search_job,
    "features.contrast": contrast_job,
}


def _interventions(state: SessionState) -> dict[str, Any]:
    return {"type": "interventions", "items": state.interventions}


def _runs(state: SessionState) -> dict[str, Any]:
    return {"type": "runs", "items": state.runs_items()}


def _vectors(state: SessionState) -> dict[str, Any]:
    return {"type": "vectors", "items": state.vectors_items()}


def _set(state: SessionState, req: Request) -> dict[str, Any]:
    state.set_interventions(cast("list[dict[str, Any]]", req.args(InterventionsSetRequest)["items"]))
    return _interventions(state)


def _add(state: SessionState, req: Request) -> dict[str, Any]:
    state.add_intervention(cast("dict[str, Any]", req.args(InterventionsAddRequest)["item"]))
    return _interventions(state)


def _remove(state: SessionState, req: Request) -> dict[str, Any]:
    state.remove_interventions(req.args(InterventionsRemoveRequest)["ids"])
    return _interventions(state)


def _clear(state: SessionState, req: Request) -> dict[str, Any]:
    state.set_interventions([])
    return _interventions(state)


def _remove_runs(state: SessionState, req: Request) -> dict[str, Any]:
    state.remove("runs", req.args(RunsRemoveRequest)["names"])
    return _runs(state)


def _save_vector(state: SessionState, req: Request) -> dict[str, Any]:
    args = req.args(VectorsSaveRequest)
    state.save_vector(args["name"], args["vector"], "upload")
    return _vectors(state)


def _remove_vectors(state: SessionState, req: Request) -> dict[str, Any]:
    state.remove("vectors", req.args(VectorsRemoveRequest)["names"])
    return _vectors(state)


STORES: dict[str, Callable[[SessionState, Request], dict[str, Any]]] = {
    "interventions.set": _set,
    "interventions.add": _add,
    "interventions.remove": _remove,
    "interventions.clear": _clear,
    "interventions.list": lambda state, req: _interventions(state),
    "runs.list": lambda state, req: _runs(state),
    "runs.remove": _remove_runs,
    "vectors.save": _save_vector,
    "vectors.list": lambda state, req: _vectors(state),
    "vectors.remove": _remove_vectors,
}


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison of UTF-8 bytes (str comparison would raise on non-ASCII input)."""
    return hmac.compare_digest((given or "").encode(), token.encode())


MODEL_KEYS = ("name", "arch", "n_layers", "n_heads", "n_kv_heads", "d_model", "d_head", "d_mlp", "d_vocab", "n_ctx")


def model_info(host: Host) -> dict[str, Any]:
    """The `model` object of welcome and GET /api/model."""
    info = {k: getattr(host.model.cfg, k) for k in MODEL_KEYS}
    info["hook_points"] = host.model.hook_points
    return info
