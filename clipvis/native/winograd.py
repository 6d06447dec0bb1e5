"""3x3 convolutions (stride 1, padding 1) by Winograd's F(m x m, 3 x 3) on the CPU.

The FPN's 3x3 convolution at stride 4 is the largest single product after the
backbone, and oneDNN's direct convolution already runs it at the CPU's peak.
Winograd needs fewer multiplications: 2.25x fewer with m = 2, 4x with m = 4.
The transforms are C (winograd.c), the multiplications one `torch.bmm` per
band of tiles, so V and M stay small and in the cache.

Accuracy against a float64 convolution (bench/bench_winograd.py, 480p map):
m = 2 errs less than oneDNN's direct convolution (6e-7 against 1.5e-6 of the
output's scale) and is 1.4x faster; m = 4 is 1.9x faster with about ten times
the direct convolution's error (1.3e-5). The engine uses m = 2.
"""
from __future__ import annotations

import ctypes
import weakref

import torch

from .build import load_library

_ptr, _i64 = ctypes.c_void_p, ctypes.c_int64
TILES_PER_BAND = 512  # V and M of a band: (m + 2)^2 * 512 * 256 floats, 19 MB at m = 4
_filters: dict[int, tuple] = {}  # id(weight) -> (weakref to it, (version, m), U); tensors cannot be dict keys


def _library():
    lib = load_library("winograd")
    if lib is not None and not getattr(lib, "_typed", False):
        lib.winograd_matrices.argtypes = [_i64, _ptr, _ptr, _ptr]
        lib.winograd_input.argtypes = [_ptr] + [_i64] * 6 + [_ptr]
        lib.winograd_output.argtypes = [_ptr] + [_i64] * 6 + [_ptr]
        lib._typed = True
    return lib


def winograd_available() -> bool:
    return _library() is not None


def winograd_matrices(m: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """B^T (t, t), G (t, 3), A^T (m, t) as the C code has them, t = m + 2."""
    lib, t = _library(), m + 2
    bt, g, at = torch.empty(t, t), torch.empty(t, 3), torch.empty(m, t)
    if lib is None or lib.winograd_matrices(m, bt.data_ptr(), g.data_ptr(), at.data_ptr()):
        raise ValueError(f"no Winograd matrices for m = {m} (2 or 4)")
    return bt, g, at


def _transformed_filters(weight: torch.Tensor, m: int) -> torch.Tensor:
    """U = G g G^T for every (out, in) filter pair, (t*t, C, K), cached per weight
    tensor and version (made in float64, so that U adds no rounding of its own)."""
    key = (weight._version, m)
    hit = _filters.get(id(weight))
    if hit is not None and hit[0]() is weight and hit[1] == key:
        return hit[2]
    _, g, _ = winograd_matrices(m)
    g = g.double()
    u = torch.einsum("ai,kcij,bj->abck", g, weight.detach().double(), g)
    u = u.float().reshape((m + 2) ** 2, weight.shape[1], weight.shape[0]).contiguous()
    if id(weight) not in _filters:
        weakref.finalize(weight, _filters.pop, id(weight), None)
    _filters[id(weight)] = (weakref.ref(weight), key, u)
    return u


def winograd_conv3x3(x: torch.Tensor, weight: torch.Tensor, *, m: int = 4) -> torch.Tensor | None:
    """conv2d(x, weight, padding=1) without bias, by Winograd; None if the C code is not available.

    x (N, C, H, W) float32 on the CPU, weight (K, C, 3, 3). Returns (N, K, H, W)
    in channels-last memory (what oneDNN's convolution returns for such input).
    """
    lib = _library()
    if lib is None:
        return None
    if x.dtype != torch.float32 or weight.dtype != torch.float32 or not x.is_cpu or weight.shape[-2:] != (3, 3):
        raise TypeError(f"winograd_conv3x3: float32 CPU tensors and 3x3 filters only, got {x.dtype} "
                        f"{tuple(weight.shape)}")
    if m not in (2, 4):
        raise ValueError(f"winograd_conv3x3: m must be 2 or 4, got {m}")
    n, c, h, w = x.shape
    k, t = weight.shape[0], m + 2
    pixels = x.permute(0, 2, 3, 1).contiguous()  # a view when x is channels-last
    u = _transformed_filters(weight, m)
    y = torch.empty(n, h, w, k)
    total = n * (-(-h // m)) * (-(-w // m))
    band = min(TILES_PER_BAND, total)
    v_store, m_store = torch.empty(t * t * band * c), torch.empty(t * t * band * k)
    for begin in range(0, total, band):
        count = min(band, total - begin)  # the last band may be short: contiguous views of the stores
        vb, mb = v_store[:t * t * count * c].view(t * t, count, c), m_store[:t * t * count * k].view(t * t, count, k)
        lib.winograd_input(pixels.data_ptr(), h, w, c, begin, count, m, vb.data_ptr())
        torch.bmm(vb, u, out=mb)
        lib.winograd_output(mb.data_ptr(), h, w, k, begin, count, m, y.data_ptr())
    return y.permute(0, 3, 1, 2)
