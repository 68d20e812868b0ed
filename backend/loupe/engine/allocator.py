"""Keep freed memory in the process instead of handing it back to the OS after every run.

Capturing activations keeps large tensors alive for the whole forward pass; with glibc's defaults each
run then maps fresh pages and pays a page fault per 4 KiB (about 20% of a SmolLM2 forward at 256 tokens
when capturing every hook point). Raising the mmap and trim thresholds lets the next run reuse the
previous run's memory. Called by `loupe.load`; a no-op where glibc is absent.
"""

from __future__ import annotations

import ctypes
import ctypes.util

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_bytes: int = 256 << 20, keep_bytes: int = 1 << 30) -> bool:
    """Serve blocks under `mmap_bytes` from the heap and keep up to `keep_bytes` free; True if set."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok_mmap = mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(mmap_bytes))
    ok_trim = mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(keep_bytes))
    return bool(ok_mmap and ok_trim)
