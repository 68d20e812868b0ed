"""Field checks for request validation: each says in words what it accepts and returns the normalized value.

The building blocks of `loupe.server.protocol`'s message specs; a value that does not fit raises LoupeError
naming the field, what was expected and what came.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from loupe.errors import LoupeError


class Check:
    """A field check: `expected` says in words what it accepts; calling it returns the normalized value."""

    def __init__(self, expected: str, accept: Callable[[str, Any], Any], code: str = "bad_message") -> None:
        self.expected = expected
        self._accept = accept  # returns the normalized value, or NO when the value does not fit
        self.code = code  # the error code of a value that does not fit

    def __call__(self, path: str, value: Any) -> Any:
        out = self._accept(path, value)
        if out is NO:
            raise bad(path, self.expected, value, self.code)
        return out


NO = object()


def bad(path: str, expected: str, value: Any, code: str = "bad_message") -> LoupeError:
    shown = repr(value) if not isinstance(value, (bytes, np.ndarray)) else type(value).__name__
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return LoupeError(code, f"{path}: expected {expected}, got {shown}")


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def string(max_len: int = 256, min_len: int = 0) -> Check:
    return Check(
        f"a string of {min_len}..{max_len} characters",
        lambda p, v: v if isinstance(v, str) and min_len <= len(v) <= max_len else NO,
    )


def integer(lo: int, hi: int, floats: bool = True, expected: str | None = None) -> Check:
    """An int in lo..hi; with `floats`, a float with an integral value too (msgpack clients may send 1.0)."""

    def accept(p: str, v: Any) -> Any:
        if floats and isinstance(v, float) and v.is_integer():
            v = int(v)
        return v if is_int(v) and lo <= v <= hi else NO

    return Check(expected or f"an integer in {lo}..{hi}", accept)


def number(lo: float, hi: float, lo_open: bool = False) -> Check:
    """A finite number in lo..hi (above lo when `lo_open`)."""

    def accept(p: str, v: Any) -> Any:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi and not (lo_open and v == lo)
        return float(v) if ok else NO

    return Check(f"a number in {'(' if lo_open else ''}{lo}..{hi}", accept)


boolean = Check("true or false", lambda p, v: v if isinstance(v, bool) else NO)
mapping = Check("a map", lambda p, v: v if isinstance(v, dict) else NO)
anything = Check("any value", lambda p, v: v)


def one_of(*values: Any) -> Check:
    def accept(p: str, v: Any) -> Any:
        return v if any(v == x and type(v) is type(x) for x in values) else NO

    return Check("one of " + ", ".join(repr(x) for x in values), accept)


def list_of(item: Check, max_len: int, min_len: int = 0) -> Check:
    def accept(path: str, v: Any) -> Any:
        if not isinstance(v, list) or not min_len <= len(v) <= max_len:
            return NO
        return [item(f"{path}[{i}]", x) for i, x in enumerate(v)]

    return Check(f"a list of {min_len}..{max_len} items, each {item.expected}", accept)


def either(*checks: Check) -> Check:
    def accept(path: str, v: Any) -> Any:
        for c in checks:
            try:
                return c(path, v)
            except LoupeError:
                continue
        return NO

    return Check(" or ".join(c.expected for c in checks), accept)


def tensor(dtypes: tuple[str, ...], ndim: int) -> Check:
    allowed = [np.dtype({"f16": np.float16, "f32": np.float32, "i32": np.int32}[d]) for d in dtypes]

    def accept(p: str, v: Any) -> Any:
        return v if isinstance(v, np.ndarray) and v.ndim == ndim and v.dtype in allowed else NO

    return Check(f"a {'|'.join(dtypes)} tensor with {ndim} dimension(s)", accept)


request_id = either(string(64, 1), integer(0, 2**53, floats=False))  # echoed unchanged: no 1.0 for 1
