"""The text of single tokens, decoded once per id: a prompt's `str_tokens`, predictions, the lens's strings."""

from __future__ import annotations

import threading
from typing import Any


class TokenStrings:
    """`tokenizer.decode([i])` for each id, cached (a 64-token run decoded 148 single tokens one call each)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._strings: dict[int, str] = {}
        self._lock = threading.Lock()  # (server jobs on several threads share one model)

    def __call__(self, ids: list[int]) -> list[str]:
        strings = self._strings
        missing = {i for i in ids if i not in strings}
        if missing:
            decoded = {i: self.tokenizer.decode([i]) for i in missing}
            with self._lock:
                strings.update(decoded)
        return [strings[i] for i in ids]
