"""How the C heap treats the engine's large, short-lived CPU tensors (glibc only).

PyTorch's CPU allocator has no cache: every activation is a fresh malloc.
glibc serves blocks over 32 MB with mmap and returns them on free, so each
window pays page faults on first touch for every large temporary (measured
here: about 0.3 ms per MB, 15 ms for a 53 MB map). `keep_freed_memory` makes
glibc keep freed memory in the heap during a window, and `release_freed_memory`
hands it back after each window, so a long video's resident memory stays flat.
On other C libraries both do nothing.
"""
from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4


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
