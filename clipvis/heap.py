"""How the C heap treats the engine's large, short-lived CPU tensors (glibc only).

PyTorch's CPU allocator has no cache: every activation is a fresh malloc.
glibc serves large blocks with mmap and returns them on free, so each window
pays page faults on first touch for its large temporaries (measured here:
about 0.3 ms per MB). Inside `keep_freed_memory()` glibc keeps freed memory in
the heap instead: over repeated pixel-decoder passes the page faults fell from
about 100,000 per pass to none, and the engine ran about 10% faster
(docs/PERFORMANCE.md). `release_freed_memory` hands the memory back (after
each window, and when the scope ends), so a long video's resident memory stays
flat. The setting is process-wide, so it is a scope held only while a video
pass runs, restored when the last pass ends. On other C libraries both do nothing.

The C library is already loaded in every Python process: ctypes only looks up
two of its functions, it loads and compiles nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import sys
import threading

# mallopt parameters and glibc's defaults for them, from glibc's malloc.h / malloc.c.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM_THRESHOLD, _DEFAULT_MMAP_MAX = 128 * 1024, 65536


def _load_glibc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (e.g. musl)
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _load_glibc()
_lock = threading.Lock()
_holders = 0  # passes inside the scope, over all threads


@contextlib.contextmanager
def keep_freed_memory():
    """Serve large blocks from the heap and keep what is freed, while inside.
    Nested and concurrent scopes share one setting; the last to leave restores
    glibc's defaults (glibc's dynamic mmap threshold stays off after any mallopt
    call, so the threshold stays where it had moved) and hands memory back."""
    global _holders
    with _lock:
        _holders += 1
        if _holders == 1 and _LIBC is not None:
            _LIBC.mallopt(_M_MMAP_MAX, 0)
            _LIBC.mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _LIBC is not None:
                _LIBC.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
                _LIBC.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM_THRESHOLD)
                _LIBC.malloc_trim(0)


def keeping_freed_memory() -> bool:
    return _holders > 0


def release_freed_memory() -> None:
    """Return the heap's free pages to the system."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
