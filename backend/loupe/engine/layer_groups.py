"""Finished layers handed on in groups rather than one by one (the scheduler's layer hook, `logit_lens`).

Work shared across a group's layers (the logit lens of all of them in one product) then costs one call
instead of one per layer: on a GPU, where each call's Python and kernel launches outweigh its arithmetic,
that is most of the lens's cost; on a CPU, bigger products run faster per row. Groups grow 1, 2, 4, 8, 8, ...
layers, so the first layer still arrives alone and early, and the view still fills in layer by layer.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


def group_ends(n_layers: int, largest: int = 8) -> frozenset[int]:
    """The last layer of each group: sizes 1, 2, 4, ... up to `largest`; the last group ends at the last layer."""
    ends, size, layer = set(), 1, -1
    while layer < n_layers - 1:
        layer = min(layer + size, n_layers - 1)
        ends.add(layer)
        size = min(size * 2, largest)
    return frozenset(ends)


class LayerGroups(Generic[T]):
    """Collects one item per finished layer and gives them back, in layer order, when a group ends."""

    def __init__(self, n_layers: int, largest: int = 8) -> None:
        self.ends = group_ends(n_layers, largest)
        self.pending: list[tuple[int, T]] = []

    def add(self, layer: int, item: T) -> list[tuple[int, T]]:
        """The group's (layer, item) pairs when `layer` ends it, else [] (the item is kept)."""
        self.pending.append((layer, item))
        if layer not in self.ends:
            return []
        group, self.pending = self.pending, []
        return group
