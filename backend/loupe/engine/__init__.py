"""Forward passes with capture, per-layer callbacks and generation."""
