"""Interventions and vectors are checked completely when added (issue 10, findings 3 and 4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.server.conftest import Server
from tests.server.wire import Raw, tensor

PROMPT = "The Eiffel Tower is in the city of"
GOOD = {"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 1, "id": "good"}
NAN, INF = float("nan"), float("inf")


def vec(n: int, value: float = 0.5) -> dict[str, Any]:
    return tensor(np.full(n, value, np.float32))


BAD: list[tuple[dict[str, Any], str, str]] = [  # tiny model: d_model 64, 4 heads of 16, d_mlp 128
    ({"op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 99}, "bad_intervention", "head 99"),
    ({"op": "ablate", "hook": "blocks.0.hook_resid_post", "head": 0}, "bad_intervention", "no head dimension"),
    ({"op": "scale", "hook": "blocks.0.mlp.hook_post", "index": 99999, "factor": 2.0}, "bad_intervention", "index"),
    ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": vec(3)}, "bad_intervention", "64 entries"),
    ({"op": "steer", "hook": "blocks.0.attn.hook_z", "vector": vec(64)}, "bad_intervention", "16 entries"),
    ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": vec(64, NAN)}, "bad_intervention", "non-finite"),
    ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": vec(64, INF)}, "bad_intervention", "non-finite"),
    ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": vec(64, 1e5)}, "bad_intervention", "max_abs"),
    (
        {"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": vec(64), "scale": 1e308},
        "bad_intervention",
        "max_abs_value",
    ),
    ({"op": "scale", "hook": "blocks.0.mlp.hook_post", "index": 1, "factor": NAN}, "bad_intervention", "non-finite"),
    ({"op": "ablate", "hook": "blocks.0.hook_resid_post", "positions": [99999]}, "bad_intervention", "position"),
    ({"op": "ablate", "hook": "blocks.0.hook_nothing"}, "unknown_hook", "unknown hook point"),
    ({"op": "steer", "hook": "blocks.0.hook_resid_post", "vector": "missing"}, "not_found", "missing"),
]


@pytest.mark.parametrize(("item", "code", "words"), BAD)
async def test_a_bad_intervention_is_refused_when_added(
    server: Server, item: dict[str, Any], code: str, words: str
) -> None:
    c = await Raw.connect(server.url)
    [ok] = await c.request({"type": "interventions.set", "id": 1, "items": [GOOD]})
    assert [i["id"] for i in ok["items"]] == ["good"]
    [err] = await c.request({"type": "interventions.add", "id": 2, "item": item})
    assert (err["type"], err["code"], err["id"]) == ("error", code, 2), err
    assert words in err["message"]
    [err] = await c.request({"type": "interventions.set", "id": 3, "items": [GOOD, item]})
    assert err["code"] == code  # the whole request is refused
    [listed] = await c.request({"type": "interventions.list", "id": 4})
    assert [i["id"] for i in listed["items"]] == ["good"]  # unchanged
    frames = await c.request({"type": "run", "id": 5, "prompt": PROMPT, "answer": " Paris", "wrong": " Rome"}, True)
    result = next(f for f in frames if f["type"] == "run.result")
    assert frames[-1]["type"] == "done" and result["intervened"]
    assert all(np.isfinite(p["prob"]) for p in result["top_k"]) and np.isfinite(result["logit_diff"]["value"])
    await c.close()


@pytest.mark.parametrize(
    ("vector", "words"),
    [(vec(3), "expected shape [64]"), (vec(64, NAN), "non-finite"), (vec(64, 2e4), "max_abs_value")],
)
async def test_a_bad_vector_is_refused_when_saved(server: Server, vector: dict[str, Any], words: str) -> None:
    c = await Raw.connect(server.url)
    [err] = await c.request({"type": "vectors.save", "id": "v", "name": "bad", "vector": vector})
    assert (err["type"], err["code"]) == ("error", "bad_message") and words in err["message"]
    [listed] = await c.request({"type": "vectors.list", "id": "l"})
    assert listed["items"] == []
    await c.close()


async def test_scale_forms_of_the_spec_run(server: Server) -> None:
    """`scale` with `head` + `factor` (the spec's form) and with a `direction` both run."""
    c = await Raw.connect(server.url)
    items = [
        {"op": "scale", "hook": "blocks.1.attn.hook_z", "head": 2, "factor": 0.5},
        {"op": "scale", "hook": "blocks.1.hook_resid_post", "direction": vec(64), "factor": 0.0},
    ]
    [ok] = await c.request({"type": "interventions.set", "id": 1, "items": items})
    assert len(ok["items"]) == 2
    frames = await c.request({"type": "run", "id": 2, "prompt": PROMPT}, True)
    assert frames[-1]["type"] == "done" and frames[-2]["intervened"]
    await c.close()
