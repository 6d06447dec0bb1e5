"""How the C heap treats the engine's large, short-lived CPU tensors (glibc only).

PyTorch's CPU allocator has no cache: every activation is a fresh malloc.
glibc serves large blocks with mmap and returns them on free, so each window
pays page faults on first touch for its large temporaries (measured here:
about 0.3 ms per MB). `keep_freed_memory` makes glibc keep freed memory in the
heap during a window: over repeated pixel-decoder passes the page faults fell
from about 100,000 per pass to none, and the engine ran about 10% faster
(docs/PERFORMANCE.md); a lone large tensor can still fault, as glibc places
it. `release_freed_memory` hands the memory back after each window, so a long
video's resident memory stays flat. On other C libraries both do nothing.
"""
from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters, from glibc's malloc.h


def _load_glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _load_glibc()
_kept = False


def keep_freed_memory() -> None:
    """Serve large blocks from the heap and keep what is freed (process-wide; once)."""
    global _kept
    if _LIBC is None or _kept:
        return
    _LIBC.mallopt(_M_MMAP_MAX, 0)
    _LIBC.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    _kept = True


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (after each window)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
