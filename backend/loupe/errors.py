"""Errors raised by the engine; each carries a stable `code` that the wire protocol reports."""

from __future__ import annotations


class LoupeError(ValueError):
    """A bad request: the message says what was expected, `code` names the kind of problem."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Cancelled(RuntimeError):
    """Raised inside a run or a generation when its cancel event is set."""
