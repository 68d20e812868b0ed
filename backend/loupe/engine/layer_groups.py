"""Which layers close a group when a scheduler hands finished layers on in groups rather than one by one.

Work shared across a group's layers (the logit lens of all of them in one product) then costs one call
instead of one per layer: on a GPU, where each call's Python and kernel launches outweigh its arithmetic,
that is most of the lens's cost; on a CPU, bigger products run faster per row. Groups grow 1, 2, 4, 8, 8, ...
layers, so the first layer still arrives alone and early, and the view still fills in layer by layer.
"""

from __future__ import annotations


def group_ends(n_layers: int, largest: int = 8) -> frozenset[int]:
    """The last layer of each group: sizes 1, 2, 4, ... up to `largest`; the last group ends at the last layer."""
    ends, size, layer = set(), 1, -1
    while layer < n_layers - 1:
        layer = min(layer + size, n_layers - 1)
        ends.add(layer)
        size = min(size * 2, largest)
    return frozenset(ends)
