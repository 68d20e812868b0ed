"""Request validation: one declarative spec per message type of proto/README.md.

`parse(message)` checks a decoded message against its spec and returns a `Request` whose
`fields` hold every field of the spec (defaults filled in), or raises LoupeError with the
protocol error code and a message naming the field and what was expected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from loupe.errors import LoupeError

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = (1,)

Check = Callable[[str, Any], Any]  # (field path, value) -> normalized value, or raise LoupeError
REQUIRED = object()


def _bad(path: str, expected: str, value: Any) -> LoupeError:
    shown = repr(value) if not isinstance(value, (bytes, np.ndarray)) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return LoupeError("bad_message", f"{path}: expected {expected}, got {shown}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def string(max_len: int = 256, min_len: int = 0) -> Check:
    def check(path: str, v: Any) -> Any:
        if not isinstance(v, str) or not min_len <= len(v) <= max_len:
            raise _bad(path, f"a string of {min_len}..{max_len} characters", v)
        return v

    return check


def integer(lo: int, hi: int) -> Check:
    def check(path: str, v: Any) -> Any:
        if not _is_int(v) or not lo <= v <= hi:
            raise _bad(path, f"an integer in {lo}..{hi}", v)
        return v

    return check


def number(lo: float, hi: float) -> Check:
    def check(path: str, v: Any) -> Any:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
            raise _bad(path, f"a number in {lo}..{hi}", v)
        return float(v)

    return check


def boolean(path: str, v: Any) -> Any:
    if not isinstance(v, bool):
        raise _bad(path, "true or false", v)
    return v


def one_of(*values: Any) -> Check:
    def check(path: str, v: Any) -> Any:
        if not any(v == x and type(v) is type(x) for x in values):
            raise _bad(path, "one of " + ", ".join(repr(x) for x in values), v)
        return v

    return check


def list_of(item: Check, max_len: int, min_len: int = 0) -> Check:
    def check(path: str, v: Any) -> Any:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            raise _bad(path, f"a list of {min_len}..{max_len} items", v)
        return [item(f"{path}[{i}]", x) for i, x in enumerate(v)]

    return check


def either(*checks: Check, expected: str) -> Check:
    def check(path: str, v: Any) -> Any:
        for c in checks:
            try:
                return c(path, v)
            except LoupeError:
                continue
        raise _bad(path, expected, v)

    return check


def tensor(dtypes: tuple[str, ...], ndim: int) -> Check:
    names = {"f16": np.float16, "f32": np.float32, "i32": np.int32}

    def check(path: str, v: Any) -> Any:
        if not isinstance(v, np.ndarray) or v.ndim != ndim or v.dtype not in [names[d] for d in dtypes]:
            raise _bad(path, f"a {'|'.join(dtypes)} tensor with {ndim} dimension(s)", v)
        return v

    return check


def mapping(path: str, v: Any) -> Any:
    if not isinstance(v, dict):
        raise _bad(path, "a map", v)
    return v


def anything(path: str, v: Any) -> Any:
    return v


request_id = either(string(64, 1), integer(0, 2**53), expected="a string of 1..64 characters or an integer")
NAME = string(64, 1)
PROMPT = string(1 << 16)
TOKENS = either(list_of(integer(0, 2**31 - 1), 1 << 16), tensor(("i32",), 1), expected="a list of token ids")
DTYPE = one_of("f16", "f32")
NAMES = list_of(NAME, 1024)
SUMMARIES = either(boolean, list_of(one_of("resid_norm", "lens", "attn"), 3), expected="a boolean or a list")

Spec = dict[str, tuple[Check, Any]]

SPECS: dict[str, Spec] = {
    "hello": {"protocol": (integer(0, 2**31), REQUIRED), "token": (string(256), None), "client": (string(), None)},
    "ping": {"t": (anything, None)},
    "run": {
        "prompt": (PROMPT, None),
        "tokens": (TOKENS, None),
        "capture": (list_of(string(), 256), []),
        "dtype": (DTYPE, "f16"),
        "top_k": (integer(1, 1 << 20), 10),
        "summaries": (SUMMARIES, True),
        "answer": (string(), None),
        "wrong": (string(), None),
    },
    "attention.head": {"layer": (integer(0, 1 << 16), REQUIRED), "head": (integer(0, 1 << 16), REQUIRED),
                       "dtype": (DTYPE, "f16")},
    "generate": {
        "prompt": (PROMPT, REQUIRED),
        "max_new_tokens": (integer(1, 1 << 20), 32),
        "temperature": (number(0.0, 100.0), 0.0),
        "seed": (integer(0, 2**63 - 1), None),
        "top_p": (number(0.0, 1.0), None),
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
    "vectors.list": {},
    "vectors.remove": {"names": (NAMES, REQUIRED)},
    "cancel": {"target": (request_id, None)},
}
ID_OPTIONAL = frozenset({"hello", "ping"})


@dataclass
class Request:
    """A validated request: its type, its id (None when absent) and its fields, defaults filled in."""

    type: str
    id: str | int | None
    fields: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.fields[key]


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
        raise _bad("type", "a string naming the message type", mtype)
    spec = SPECS.get(mtype)
    if spec is None:
        raise LoupeError("unknown_type", f"unknown message type {mtype[:64]!r}; expected one of {sorted(SPECS)}")
    rid = None
    if "id" in message or mtype not in ID_OPTIONAL:
        rid = request_id(f"{mtype}.id", message.get("id"))
    out: dict[str, Any] = {}
    for name, (check, default) in spec.items():
        value = message.get(name)
        if value is None:
            if default is REQUIRED:
                raise LoupeError("bad_message", f"{mtype}.{name}: missing required field")
            out[name] = default
        else:
            out[name] = check(f"{mtype}.{name}", value)
    return Request(mtype, rid, out)
