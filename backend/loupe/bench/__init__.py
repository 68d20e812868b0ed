"""Loupe's benchmarks (`loupe bench`): each entry module has `run(model, quick) -> dict` and may have `report`.

They compare side by side and report ratios (interleaved runs), never absolute speed claims; TransformerLens and
nnsight are optional (the `compare` extra): entries that need them say they were skipped.
"""
