"""Keep freed memory in the process between runs, and hand it back to the OS now and then.

Capturing activations keeps large tensors alive for the whole forward pass; with glibc's defaults each
run then maps fresh pages and pays a page fault per 4 KiB (about 20% of a SmolLM2 forward at 256 tokens
when capturing every hook point). Raising the mmap and trim thresholds lets the next run reuse the
previous run's memory. Called by `loupe.load`; a no-op where glibc is absent.

What is kept must not grow without end, though. glibc gives each thread that allocates while another
does its own arena (up to 8 per core), a freed block goes back to its own thread's arena, and with the
trim threshold raised no arena ever shrinks: a server whose jobs run on 8 worker threads keeps the peak of
each, and fragments them (a big block cannot use the small gaps that long-lived frames leave). In the
hostile soak the server's arenas held 2.4 GB of which 1.7 GB free after 10 minutes, and RSS kept rising;
`malloc_trim(0)` gave 1.75 GB back at once, while the objects and tensors alive stayed flat. So threads share
two arenas (forward passes take turns on the model's lock anyway, so they rarely allocate at the same time),
and a server also calls `release_freed_memory` periodically (`release_periodically`): the runs in between
still reuse their pages.

That was not enough for a server under mixed load: in the 30-minute hostile soak the main arena's extent
still grew to 4.3 GB with 0.55 GB in use, because blocks of tens to hundreds of MB (a batch's lens logits,
attention patterns of long prompts) found no gap big enough between long-lived small ones and extended the
heap each time. A server therefore serves blocks from `SERVER_MMAP_BYTES` up by mmap (`Host` sets it): they
go back to the OS when freed and never fragment the heap, and the page faults they cost are a few percent of
the work that made them, while the captures of one run (an attention pattern at 256 tokens is 2.4 MB) still
reuse heap pages.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
SERVER_MMAP_BYTES = 16 << 20


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_freed_memory(mmap_bytes: int = 256 << 20, keep_bytes: int = 1 << 30, arenas: int = 2) -> bool:
    """Serve blocks under `mmap_bytes` from the heap, keep up to `keep_bytes` free in at most `arenas` arenas
    (threads share them); True if set."""
    libc = _libc()
    if libc is None:
        return False
    ok_mmap = libc.mallopt(_M_MMAP_THRESHOLD, ctypes.c_int(mmap_bytes))
    ok_trim = libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(keep_bytes))
    ok_arenas = libc.mallopt(_M_ARENA_MAX, ctypes.c_int(arenas))
    return bool(ok_mmap and ok_trim and ok_arenas)


def release_freed_memory() -> bool:
    """Give every whole free page of every arena back to the OS (glibc `malloc_trim(0)`); True if any was."""
    libc = _libc()
    return bool(libc is not None and libc.malloc_trim(ctypes.c_size_t(0)))


def release_periodically(every_s: float, stop: threading.Event) -> threading.Thread:
    """A daemon thread calling `release_freed_memory` every `every_s` seconds until `stop` is set."""

    def loop() -> None:
        while not stop.wait(every_s):
            release_freed_memory()

    thread = threading.Thread(target=loop, name="loupe-release-memory", daemon=True)
    thread.start()
    return thread
