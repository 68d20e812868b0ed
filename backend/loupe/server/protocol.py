"""Request validation: one declarative spec per message type of proto/README.md.

`parse(message)` checks a decoded message against its spec and returns a `Request` whose
`fields` hold every field of the spec (defaults filled in), or raises LoupeError with the
protocol error code and a message naming the field and what was expected.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from loupe.errors import LoupeError
from loupe.server.checks import (
    NO,
    Check,
    anything,
    bad,
    boolean,
    either,
    integer,
    is_int,
    list_of,
    mapping,
    number,
    one_of,
    request_id,
    string,
    tensor,
)
from loupe.wire import ANALYZE_KINDS, PROTOCOL_VERSION

SUPPORTED_PROTOCOLS = (PROTOCOL_VERSION,)

REQUIRED = object()
T = TypeVar("T")

NAME = string(64, 1)
MAX_PROMPT_CHARS = 1 << 16


def _prompt(path: str, v: Any) -> Any:
    if isinstance(v, str) and len(v) > MAX_PROMPT_CHARS:
        raise LoupeError("too_long", f"{path}: {len(v)} characters; a prompt has at most {MAX_PROMPT_CHARS}")
    return v if isinstance(v, str) else NO


PROMPT = Check(f"a string of at most {MAX_PROMPT_CHARS} characters", _prompt)
TOKENS = either(list_of(integer(0, 2**31 - 1), 1 << 16, 1), tensor(("i32",), 1))
DTYPE = one_of("f16", "f32")
NAMES = list_of(NAME, 1024)
SUMMARIES = either(boolean, list_of(one_of("resid_norm", "lens", "attn"), 3))


def _run_features(path: str, v: Any) -> Any:
    if not isinstance(v, dict) or set(v) - {"sae", "k"}:
        return NO
    sae, k = v.get("sae"), v.get("k", 16)
    ok = isinstance(sae, str) and 1 <= len(sae) <= 64 and is_int(k) and 1 <= k <= 64
    return {"sae": sae, "k": k} if ok else NO


RUN_FEATURES = Check("a map {sae: an SAE id, k?: an integer in 1..64}", _run_features)
POSITIONS = list_of(integer(-(1 << 16), 1 << 16), 4096, 1)
FEATURE_K = integer(1, 100)

Spec = dict[str, tuple[Check, Any]]

SPECS: dict[str, Spec] = {
    "hello": {
        "protocol": (integer(0, 2**31), REQUIRED),
        "token": (string(256), None),
        "client": (string(), None),
    },
    "ping": {"t": (anything, None)},
    "run": {
        "prompt": (PROMPT, None),
        "tokens": (TOKENS, None),
        "capture": (list_of(string(), 256), []),
        "dtype": (DTYPE, "f16"),
        "top_k": (integer(1, 1 << 20, expected="an integer in 1..max_top_k (welcome.limits)"), 10),
        "summaries": (SUMMARIES, True),
        "answer": (string(), None),
        "wrong": (string(), None),
        "features": (RUN_FEATURES, None),
    },
    "attention.head": {
        "layer": (integer(0, 1 << 16), REQUIRED),
        "head": (integer(0, 1 << 16), REQUIRED),
        "dtype": (DTYPE, "f16"),
    },
    "generate": {
        "prompt": (PROMPT, REQUIRED),
        "max_new_tokens": (integer(1, 1 << 20), 32),
        "temperature": (number(0.0, 100.0), 0.0),
        "seed": (integer(0, 2**63 - 1), None),
        "top_p": (number(0.0, 1.0, lo_open=True), None),
        "compare": (boolean, False),
    },
    "interventions.set": {"items": (list_of(mapping, 4096), REQUIRED)},
    "interventions.add": {"item": (mapping, REQUIRED)},
    "interventions.remove": {"ids": (list_of(string(64, 1), 4096), REQUIRED)},
    "interventions.clear": {},
    "interventions.list": {},
    "runs.save": {"name": (NAME, REQUIRED), "prompt": (PROMPT, None), "tokens": (TOKENS, None)},
    "runs.list": {},
    "runs.remove": {"names": (NAMES, REQUIRED)},
    "vectors.save": {"name": (NAME, REQUIRED), "vector": (tensor(("f16", "f32"), 1), REQUIRED)},
    "vectors.from_prompts": {
        "name": (NAME, REQUIRED),
        "positive": (list_of(PROMPT, 1 << 10, 1), REQUIRED),
        "negative": (list_of(PROMPT, 1 << 10, 1), REQUIRED),
        "layer": (integer(0, 1 << 16), REQUIRED),
        "hook": (string(), None),
        "position": (one_of("last", "mean"), "last"),
    },
    "vectors.from_token": {"name": (NAME, REQUIRED), "token": (string(), REQUIRED), "normalize": (boolean, True)},
    "vectors.from_neuron": {
        "name": (NAME, REQUIRED),
        "layer": (integer(0, 1 << 16), REQUIRED),
        "index": (integer(0, 1 << 24), REQUIRED),
        "normalize": (boolean, False),
    },
    "vectors.list": {},
    "vectors.remove": {"names": (NAMES, REQUIRED)},
    "cancel": {"target": (request_id, None)},
    "analyze": {  # which fields a kind reads: proto/README.md, "analyze"; the job checks the rest
        "kind": (
            one_of(*ANALYZE_KINDS),
            REQUIRED,
        ),
        "prompt": (PROMPT, None),
        "tokens": (TOKENS, None),
        "position": (integer(-(1 << 16), 1 << 16), -1),
        "k": (integer(1, 1 << 20, expected="an integer in 1..max_top_k (welcome.limits)"), None),
        "target": (string(), None),
        "grid": (boolean, False),
        "answer": (string(), None),
        "wrong": (string(), None),
        "corrupt": (PROMPT, None),
        "over": (one_of("heads", "resid", "layers"), "heads"),
        "direction": (one_of("noising", "denoising"), "noising"),
        "batch_size": (integer(1, 64), 32),
        "layer": (integer(0, 1 << 16), None),
        "head": (integer(0, 1 << 16), None),
        "interventions": (boolean, True),
        "dtype": (DTYPE, "f32"),
    },
    "features.list": {},
    "features.info": {"sae": (NAME, REQUIRED), "index": (integer(0, 1 << 24), REQUIRED)},
    "features.search": {
        "sae": (NAME, REQUIRED),
        "by": (one_of("token", "text", "span"), REQUIRED),
        "query": (string(256, 1), None),
        "prompt": (PROMPT, None),
        "positions": (POSITIONS, None),
        "k": (FEATURE_K, 20),
    },
    "features.contrast": {
        "sae": (NAME, REQUIRED),
        "a": (list_of(PROMPT, 1 << 10, 1), REQUIRED),
        "b": (list_of(PROMPT, 1 << 10, 1), REQUIRED),
        "k": (FEATURE_K, 20),
    },
}
ID_OPTIONAL = frozenset({"hello", "ping"})


@dataclass
class Request:
    """A validated request: its type, its id (None when absent) and its fields, defaults filled in."""

    type: str
    id: str | int | None
    fields: dict[str, Any] = field(default_factory=dict)

    def args(self, kind: builtins.type[T]) -> T:  # `type` is the field above
        """The fields as this request's generated type (`loupe.wire.RunRequest` for `run`, ...).

        The parser fills every field of SPECS, and tests/proto/test_generated.py checks that SPECS and the
        generated types have the same fields, required ones and defaults."""
        return cast(T, self.fields)


def peek_id(message: dict[str, Any]) -> str | int | None:
    """The message's id if it is a valid one, so that even an invalid request's error names it."""
    try:
        rid: str | int = request_id("id", message.get("id"))
        return rid
    except LoupeError:
        return None


def parse(message: dict[str, Any]) -> Request:
    """Validate a decoded message against the spec of its `type`."""
    mtype = message.get("type")
    if not isinstance(mtype, str):
        raise bad("type", "a string naming the message type", mtype)
    spec = SPECS.get(mtype)
    if spec is None:
        raise LoupeError("unknown_type", f"unknown message type {mtype[:64]!r}; expected one of {sorted(SPECS)}")
    rid = None
    if "id" not in message and mtype not in ID_OPTIONAL:
        raise LoupeError("bad_message", f"{mtype}.id: missing; expected {request_id.expected}")
    if "id" in message:
        rid = request_id(f"{mtype}.id", message.get("id"))
    out: dict[str, Any] = {}
    for name, (check, default) in spec.items():
        value = message.get(name)
        if value is None:
            if default is REQUIRED:
                raise LoupeError("bad_message", f"{mtype}.{name}: missing; expected {check.expected}")
            out[name] = default
        else:
            out[name] = check(f"{mtype}.{name}", value)
    return Request(mtype, rid, out)
