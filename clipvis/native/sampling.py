"""Python side of deform_sample.c: argument checks and the call.

Built with OpenMP, the kernel splits its rows itself, on torch's threads.
Otherwise the rows are split over Python threads here: ctypes releases the GIL
during the call, so they run in parallel, as many as torch uses.
"""
from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from .build import load_library

_ptr, _i64 = ctypes.c_void_p, ctypes.c_int64
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def _library():
    lib = load_library("deform_sample")
    if lib is not None and not getattr(lib, "_typed", False):
        lib.deform_sample.argtypes = [_ptr] * 5 + [_i64, _ptr, _ptr] + [_i64] * 9 + [_ptr]
        lib.deform_sample.restype = ctypes.c_int
        lib.deform_sample_parallel.restype = ctypes.c_int
        lib._typed = True
    return lib


def native_sampling_available() -> bool:
    return _library() is not None


def _workers(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size < n:
            _pool, _pool_size = ThreadPoolExecutor(max_workers=n, thread_name_prefix="clipvis-sample"), n
        return _pool


def _rows(t: torch.Tensor, name: str) -> torch.Tensor:
    """A float32 CPU matrix whose rows may be strided but whose columns are contiguous."""
    if t.dtype != torch.float32 or not t.is_cpu or t.dim() != 2:
        raise TypeError(f"deform_sample: {name} must be a 2-D float32 CPU tensor, got {t.dtype} {tuple(t.shape)}")
    return t if t.stride(1) == 1 else t.contiguous()


def deform_sample(value: torch.Tensor, spatial_shapes, offsets: torch.Tensor, logits: torch.Tensor, *,
                  n_heads: int, rows_per_sample: int, reference: torch.Tensor | None = None
                  ) -> torch.Tensor | None:
    """Fused deformable sampling on the CPU; None if the C kernel is not available.

    value (N, S, C): all levels, channels last. For R = N * rows_per_sample rows:
    offsets (R, 2*M*L*P), laid out (xy, head, level, point), in each level's pixels
    (pixel centres at integers); logits (R, M*L*P) before the softmax. Their rows
    may be strided (e.g. two column ranges of one product). reference
    (rows_per_sample, 2*M*L*P), optional, is added to the offsets of every sample.
    Returns (R, C), equal to `ms_deform_attn` up to float rounding.
    """
    lib = _library()
    if lib is None:
        return None
    n, s, c = value.shape
    m, n_levels = n_heads, len(spatial_shapes)
    offsets, logits = _rows(offsets, "offsets"), _rows(logits, "logits")
    r, k = logits.shape[0], logits.shape[1] // max(m, 1)
    n_points = k // max(n_levels, 1)
    if (c % m or k * m != logits.shape[1] or n_points * n_levels != k or offsets.shape != (r, 2 * m * k)
            or sum(h * w for h, w in spatial_shapes) != s or r != n * rows_per_sample
            or (reference is not None and reference.shape != (rows_per_sample, 2 * m * k))):
        raise ValueError(f"deform_sample: inconsistent shapes: value {tuple(value.shape)}, offsets "
                         f"{tuple(offsets.shape)}, logits {tuple(logits.shape)}, levels {list(spatial_shapes)}, "
                         f"{m} heads, {rows_per_sample} rows per sample")
    value = value.contiguous()
    if value.dtype != torch.float32 or not value.is_cpu:
        raise TypeError(f"deform_sample: value must be float32 on the CPU, got {value.dtype} {value.device}")
    if reference is not None:
        reference = reference.contiguous()
        if reference.dtype != torch.float32 or not reference.is_cpu:
            raise TypeError("deform_sample: reference must be float32 on the CPU")
    shapes = torch.tensor([[h, w] for h, w in spatial_shapes], dtype=torch.int64)
    sizes = shapes.prod(1)
    starts, hs, ws = torch.cumsum(sizes, 0) - sizes, shapes[:, 0].contiguous(), shapes[:, 1].contiguous()
    out = torch.empty(r, c, dtype=torch.float32)

    def run(begin: int, end: int) -> int:
        return lib.deform_sample(value.data_ptr(), starts.data_ptr(), hs.data_ptr(), ws.data_ptr(),
                                 offsets.data_ptr(), offsets.stride(0),
                                 None if reference is None else reference.data_ptr(),
                                 logits.data_ptr(), logits.stride(0), begin, end, rows_per_sample,
                                 s, m, n_levels, n_points, c, out.data_ptr())

    threads = 1 if lib.deform_sample_parallel() else max(1, min(torch.get_num_threads(), r // 128))
    bounds = [r * i // threads for i in range(threads + 1)]
    futures = [_workers(threads - 1).submit(run, a, b) for a, b in zip(bounds[1:-1], bounds[2:])] if threads > 1 else []
    codes = [run(bounds[0], bounds[1])] + [f.result() for f in futures]
    if any(codes):
        raise ValueError(f"deform_sample: {n_levels} levels x {n_points} points is more than the kernel's 256")
    return out
