"""Regenerate proto/vectors/: NAME.msgpack (one frame's bytes) + NAME.json (its JSON view).

Run from the repository root: `.venv/bin/python proto/make_vectors.py`. Invalid frames go to
vectors/invalid/ with a JSON file naming the error code a decoder must report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from loupe.codec import pack, to_json

OUT = Path(__file__).parent / "vectors"
f16 = np.float16
HEADS = np.array([[[1.0, 0.0], [0.25, 0.75]], [[1.0, 0.0], [0.5, 0.5]]], f16)

VALID: dict[str, dict[str, Any]] = {
    "hello": {"type": "hello", "protocol": 1, "client": "example"},
    "welcome": {
        "type": "welcome",
        "id": None,
        "protocol": 1,
        "session": "3f2a9c0d11e4b7a8",
        "server": "loupe/0.1.0",
        "model": {
            "name": "tiny",
            "arch": "llama",
            "n_layers": 1,
            "n_heads": 2,
            "n_kv_heads": 1,
            "d_model": 4,
            "d_head": 2,
            "d_mlp": 8,
            "d_vocab": 10,
            "n_ctx": 16,
            "hook_points": [
                "hook_embed",
                "blocks.0.attn.hook_pattern",
                "blocks.0.hook_resid_post",
                "ln_final.hook_normalized",
                "logits",
            ],
        },
        "limits": {
            "max_message_bytes": 1048576,
            "max_prompt_tokens": 512,
            "max_capture_bytes": 67108864,
            "max_new_tokens": 256,
            "max_queued_jobs": 4,
            "max_top_k": 100,
        },
    },
    "ping": {"type": "ping", "id": 7, "t": 1717.5},
    "pong": {"type": "pong", "id": 7, "t": 1717.5},
    "run": {
        "type": "run",
        "id": "r1",
        "prompt": "When Mary and John",
        "capture": ["blocks.*.attn.hook_pattern"],
        "dtype": "f16",
        "top_k": 5,
        "summaries": True,
        "answer": " Mary",
        "wrong": " John",
    },
    "run_tokens_request": {"type": "run", "id": "r2", "tokens": np.array([1, 2, 3], np.int32), "summaries": ["attn"]},
    "run.tokens": {
        "type": "run.tokens",
        "id": "r1",
        "tokens": np.array([4, 0, 9], np.int32),
        "str_tokens": ["When", " Mary", " and"],
    },
    "run.layer": {
        "type": "run.layer",
        "id": "r1",
        "layer": 0,
        "ms": 12.5,
        "tensors": {"blocks.0.attn.hook_pattern": HEADS},
        "summary": {
            "resid_norm": np.array([1.5, 2.25], f16),
            "lens": {
                "top1": np.array([3, 7], np.int32),
                "prob": np.array([0.5, 0.125], f16),
                "top1_str": [" a", " b"],
                "top5": np.array([7, 1, 2, 3, 4], np.int32),
                "top5_prob": np.array([0.125, 0.0625, 0.03125, 0.015625, 0.0078125], f16),
                "top5_str": [" b", "c", "d", "e", "f"],
            },
            "attn": HEADS,
        },
    },
    "run.result": {
        "type": "run.result",
        "id": "r1",
        "intervened": True,
        "top_k": [{"token": 7, "str": " Mary", "prob": 0.75, "logit": 3.5}],
        "clean": [{"token": 5, "str": " John", "prob": 0.5, "logit": 2.0}],
        "logit_diff": {
            "answer": " Mary",
            "wrong": " John",
            "answer_token": 7,
            "wrong_token": 5,
            "value": 1.5,
            "clean": -0.5,
        },
        "tensors": {"logits": np.array([[0.5, -1.0, 2.0]], np.float32)},
    },
    "done": {"type": "done", "id": "r1", "ms": 40.25, "cancelled": False},
    "attention.head": {"type": "attention.head", "id": "h1", "layer": 0, "head": 1, "dtype": "f32"},
    "attention.head_reply": {
        "type": "attention.head",
        "id": "h1",
        "layer": 0,
        "head": 1,
        "pattern": np.array([[1.0, 0.0], [0.5, 0.5]], np.float32),
        "str_tokens": ["a", "b"],
    },
    "generate": {
        "type": "generate",
        "id": "g1",
        "prompt": "Once upon",
        "max_new_tokens": 8,
        "temperature": 0.0,
        "compare": True,
    },
    "gen.token": {
        "type": "gen.token",
        "id": "g1",
        "branch": "baseline",
        "index": 0,
        "token": 42,
        "text": " a",
        "prob": 0.25,
    },
    "interventions.set": {
        "type": "interventions.set",
        "id": 1,
        "items": [
            {"id": "z", "op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 1, "mode": "zero"},
            {
                "op": "steer",
                "hook": "blocks.0.hook_resid_post",
                "vector": np.array([0.5, -0.5, 1.0, 0.0], np.float32),
                "scale": 4.0,
                "positions": "all",
            },
            {"op": "patch", "hook": "blocks.0.hook_resid_post", "source": "corrupt", "positions": [1, -1]},
            {"op": "scale", "hook": "blocks.0.mlp.hook_post", "index": 3, "factor": 0.0, "enabled": False},
        ],
    },
    "interventions": {
        "type": "interventions",
        "id": 1,
        "items": [
            {"id": "z", "op": "ablate", "hook": "blocks.0.attn.hook_z", "head": 1, "mode": "zero", "enabled": True}
        ],
    },
    "interventions.remove": {"type": "interventions.remove", "id": 2, "ids": ["z"]},
    "runs.save": {"type": "runs.save", "id": "s1", "name": "corrupt", "prompt": "When John and Mary"},
    "runs": {
        "type": "runs",
        "id": "s1",
        "items": [{"name": "corrupt", "n_tokens": 2, "str_tokens": ["When", " John"]}],
    },
    "vectors.save": {"type": "vectors.save", "id": "v1", "name": "up", "vector": np.array([1.0, 0.0, -2.0, 0.5], f16)},
    "vectors.from_prompts": {
        "type": "vectors.from_prompts",
        "id": "v2",
        "name": "joy",
        "positive": ["I love it"],
        "negative": ["I hate it"],
        "layer": 0,
        "position": "last",
    },
    "vectors": {
        "type": "vectors",
        "id": "v2",
        "items": [{"name": "joy", "d": 4, "norm": 2.0, "origin": "prompts"}],
        "vector": np.array([1.0, 1.0, -1.0, 1.0], np.float32),
    },
    "vectors.from_token": {"type": "vectors.from_token", "id": "v3", "name": "mary", "token": " Mary"},
    "vectors.from_neuron": {"type": "vectors.from_neuron", "id": "v4", "name": "n42", "layer": 0, "index": 3},
    "analyze": {
        "type": "analyze",
        "id": "a1",
        "kind": "patch",
        "corrupt": "When Mary and John went to the store, Mary gave a drink to",
        "answer": " Mary",
        "wrong": " John",
        "over": "heads",
    },
    "analyze.row": {
        "type": "analyze.row",
        "id": "a1",
        "kind": "patch",
        "index": 0,
        "label": "L0",
        "effect": np.array([0.5, -0.25], np.float32),
        "metric": np.array([0.0, 3.0], np.float32),
        "n_rows": 1,
    },
    "analyze.result": {
        "type": "analyze.result",
        "id": "a1",
        "kind": "patch",
        "over": "heads",
        "direction": "noising",
        "row_labels": ["L0"],
        "col_labels": ["H0", "H1"],
        "effect": np.array([[0.5, -0.25]], np.float32),
        "metric": np.array([[0.0, 3.0]], np.float32),
        "clean_metric": 2.0,
        "corrupt_metric": -2.0,
        "top": [{"label": "L0 H0", "value": 0.5}, {"label": "L0 H1", "value": -0.25}],
        "str_tokens": ["When", " Mary"],
    },
    "analyze.head_scores": {
        "type": "analyze.result",
        "id": "a2",
        "kind": "head_scores",
        "scores": {
            "induction": np.array([[0.0, 0.875]], f16),
            "previous_token": np.array([[0.5, 0.0]], f16),
            "duplicate_token": np.array([[0.0, 0.25]], f16),
        },
        "seq_len": 50,
        "batch": 4,
        "cached": True,
    },
    "analyze.lens_grid": {
        "type": "analyze.result",
        "id": "a3",
        "kind": "logit_lens",
        "position": 1,
        "str_tokens": ["When", " Mary"],
        "labels": ["embed", "L0"],
        "tokens": np.array([[11], [12]], np.int32),
        "probs": np.array([[0.5], [0.75]], np.float32),
        "top_str": [[" and"], [" and"]],
        "grid": {
            "tokens": np.array([[13, 11], [13, 12]], np.int32),
            "probs": np.array([[0.25, 0.5], [0.125, 0.75]], np.float32),
            "top_str": [[",", " and"], [",", " and"]],
        },
    },
    "run_features_request": {
        "type": "run",
        "id": "r3",
        "prompt": "The capital of France is",
        "summaries": False,
        "features": {"sae": "res10", "k": 2},
    },
    "run.layer_features": {
        "type": "run.layer",
        "id": "r3",
        "layer": 10,
        "ms": 30.5,
        "tensors": {},
        "features": {
            "sae": "res10",
            "hook": "blocks.10.hook_resid_post",
            "ids": np.array([[7, 3], [42, 0], [42, 7]], np.int32),
            "values": np.array([[2.5, 0.5], [8.0, 0.0], [6.25, 1.0]], np.float32),
        },
    },
    "interventions.add_feature": {
        "type": "interventions.add",
        "id": 3,
        "item": {"op": "feature", "sae": "res10", "index": 42, "mode": "set", "value": 8.0, "positions": [-1]},
    },
    "features.list": {"type": "features.list", "id": "f1"},
    "features.list_reply": {
        "type": "features.list",
        "id": "f1",
        "saes": [
            {
                "id": "res10",
                "hook": "blocks.10.hook_resid_post",
                "layer": 10,
                "d_in": 576,
                "d_sae": 8192,
                "architecture": "topk",
                "k": 32,
                "dashboard": True,
            }
        ],
    },
    "features.info": {"type": "features.info", "id": "f2", "sae": "res10", "index": 42},
    "features.info_reply": {
        "type": "features.info",
        "id": "f2",
        "sae": "res10",
        "index": 42,
        "density": 0.00125,
        "max": 9.5,
        "histogram": {"edges": [0.5, 1.0, 2.0, 4.0], "counts": [12, 30, 7]},
        "promoted": [{"token": " Paris", "logit": 0.75}],
        "suppressed": [{"token": " London", "logit": -0.5}],
        "contexts": [{"tokens": ["The", " capital", " of", " France"], "values": [0.0, 1.5, 0.0, 9.5], "max": 9.5}],
        "label": "France",
    },
    "features.search": {"type": "features.search", "id": "f3", "sae": "res10", "by": "token", "query": " Paris"},
    "features.search_span": {
        "type": "features.search",
        "id": "f4",
        "sae": "res10",
        "by": "span",
        "prompt": "The capital of France is",
        "positions": [3, -1],
        "k": 5,
    },
    "features.search_reply": {
        "type": "features.search",
        "id": "f3",
        "sae": "res10",
        "by": "token",
        "results": [{"index": 42, "score": 0.75, "label": "France"}, {"index": 7, "score": 0.5, "label": "→ Paris"}],
    },
    "features.contrast": {
        "type": "features.contrast",
        "id": "f5",
        "sae": "res10",
        "a": ["I love you"],
        "b": ["I hate you"],
        "k": 10,
    },
    "features.contrast_reply": {
        "type": "features.contrast",
        "id": "f5",
        "sae": "res10",
        "results": [{"index": 7, "score": 3.5, "mean_a": 4.0, "mean_b": 0.5, "label": "love"}],
    },
    "cancel": {"type": "cancel", "id": "c1", "target": "r1"},
    "cancelled": {"type": "cancelled", "id": "c1", "targets": ["r1"]},
    "error": {
        "type": "error",
        "id": "r1",
        "code": "unknown_hook",
        "message": "capture pattern 'x' matches no hook point",
    },
    "tensor_edge_cases": {
        "type": "ping",
        "id": "edge",
        "t": {
            "scalar": np.array(3.5, np.float32),
            "empty": np.zeros((0, 3), f16),
            "f16_extremes": np.array([65504.0, -65504.0, 6.103515625e-05, 5.960464477539063e-08, -0.0], f16),
            "i32_extremes": np.array([-(2**31), 2**31 - 1], np.int32),
        },
    },
}

INVALID: dict[str, tuple[bytes, str]] = {
    "not_msgpack": (b"\xc1", "bad_frame"),
    "not_a_map": (b"\x93\x01\x02\x03", "bad_frame"),
    "tensor_wrong_length": (
        pack(
            {"type": "vectors.save", "id": 1, "name": "v", "vector": {"dtype": "f32", "shape": [3], "data": b"\0" * 8}}
        ),
        "bad_message",
    ),
    "tensor_unknown_dtype": (
        pack(
            {"type": "vectors.save", "id": 1, "name": "v", "vector": {"dtype": "f64", "shape": [1], "data": b"\0" * 8}}
        ),
        "bad_message",
    ),
    "tensor_too_many_dims": (
        pack(
            {
                "type": "vectors.save",
                "id": 1,
                "name": "v",
                "vector": {"dtype": "f32", "shape": [1] * 17, "data": b"\0" * 4},
            }
        ),
        "bad_message",
    ),
    "tensor_too_many_elements": (
        pack(
            {
                "type": "vectors.save",
                "id": 1,
                "name": "v",
                "vector": {"dtype": "f32", "shape": [2**31, 2**31, 0], "data": b""},
            }
        ),
        "bad_message",
    ),
}


def main() -> None:
    (OUT / "invalid").mkdir(parents=True, exist_ok=True)
    for name, message in VALID.items():
        message = {k: v for k, v in message.items() if v is not None}
        (OUT / f"{name}.msgpack").write_bytes(pack(message))
        (OUT / f"{name}.json").write_text(json.dumps(to_json(message), indent=1) + "\n")
    for name, (frame, code) in INVALID.items():
        (OUT / "invalid" / f"{name}.msgpack").write_bytes(frame)
        (OUT / "invalid" / f"{name}.json").write_text(json.dumps({"error": code}) + "\n")


if __name__ == "__main__":
    main()
