"""The clean (no-intervention) last-position logits of recent prompts, kept per server.

An intervened `run` reports the clean prediction next to its own; with the clean logits of that prompt
already known (the same prompt ran before, as the UI does each time an intervention changes), the run needs
no clean twin row in its forward pass. The server never changes the model's weights, so an entry stays right.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import torch


class CleanLogits:
    """An LRU map from a prompt's token ids to its clean last-position logits [d_vocab]."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[tuple[int, ...], torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tokens: torch.Tensor) -> torch.Tensor | None:
        """The clean logits of `tokens` [1, pos], if known."""
        key = tuple(tokens[0].tolist())
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, tokens: torch.Tensor, logits: torch.Tensor) -> None:
        key = tuple(tokens[0].tolist())
        with self._lock:
            self._items[key] = logits.detach().clone()
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
