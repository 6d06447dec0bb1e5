"""A `VideoAnalysis` on disk without pickle: one safetensors file of plain
arrays, with its `VideoMeta` as JSON in the file's metadata.

    stored = compact(analysis)          # the analysis as it will be stored (exact masks)
    save(stored, "run-1.safetensors")   # atomic and fsync'ed
    stored = load("run-1.safetensors")  # reads arrays only: nothing in the file can run code

Two things make the file about a third of a pickled analysis:

- **Pooled CLIP vectors in fp16.** Classification normalises them and takes
  cosines, so it moves by about 1e-3 (the test states the tolerance). A caller
  that wants the same results before and after a restart classifies
  `stored.analysis`, which already holds the fp16 vectors.
- **Exact mask values only where they decide a pixel.** The engine keeps exact
  logits within 2 pixels of a sign change (`clipvis.masks.BAND`), which covers
  any bilinear resize. Here the resize is known, so each low-resolution pixel
  is kept only if some output pixel's interpolation *support* (the logits it
  reads with a nonzero weight, found by probing the decode itself) mixes signs.
  Any other output pixel reads logits of one sign, so `±1` gives it the same
  sign. Of the kept values, those stored in fp16 are the ones whose rounding
  provably cannot flip an output pixel: with `o` the output's value and `B` an
  upper bound of what the rounding (and float32 arithmetic) can move it,
  `|o| > B` keeps its sign; where it does not hold, the values under that
  pixel's support stay float32 (about 0.5% of them).

Decoding the stored codes therefore gives exactly the engine's masks; the tests
check it pixel for pixel (`mask_mismatches`). Computing `|o|` decodes every
mask once, which also yields `mask_nonempty`: whether query q shows any pixel
on frame t, so a caller can make a track of a query without decoding its masks.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file, save_file

from .atomic import atomic_path, fsync_dir
from .masks import FrameMaskCode, logits_to_frame_masks
from .structures import VideoAnalysis, VideoMeta

FORMAT = "clipvis-analysis/1"
# Rounding to fp16 moves a value by at most 2^-11 of it; the margin also covers
# float32 arithmetic in the two resizes (about 2^-21 of the sum of |terms|).
MARGIN = 2.0 ** -14
# fp16 keeps a value's sign only between these magnitudes (below: it may round
# to 0; above: to inf); values outside them, and non-finite ones, stay float32.
FP16_MIN, FP16_MAX = 1e-4, 6.0e4
TINY = 2.0 ** -100  # smaller logits are kept exactly: a sum of such terms could underflow


class AnalysisFileError(ValueError):
    """A file that is not an analysis this version wrote, or is damaged."""


@dataclass
class StoredAnalysis:
    """An analysis in its stored form, and what storing it found out.

    mask_nonempty: (Q, T) bool, query q's decoded mask has a pixel on frame t.
    """

    analysis: VideoAnalysis
    mask_nonempty: np.ndarray
    _frames: list | None = field(default=None, repr=False)  # the file's arrays, kept by `compact`


# ---- the decode's geometry --------------------------------------------------------

def _resize(logits: torch.Tensor, meta: VideoMeta) -> torch.Tensor:
    """The values `clipvis.masks.logits_to_frame_masks` thresholds at 0, made by
    the same two calls (a test checks the two agree)."""
    x = F.interpolate(logits[None].float(), size=tuple(meta.padded_hw), mode="bilinear", align_corners=False)
    x = x[:, :, : meta.input_hw[0], : meta.input_hw[1]]
    return F.interpolate(x, size=tuple(meta.frame_hw), mode="bilinear", align_corners=False)[0]


class Geometry:
    """How the decode resizes one frame's low-resolution logits (h, w) to the
    frame (H, W): per output row (column), the interval [lo, hi] of low-resolution
    rows (columns) it reads with a nonzero weight, and the weights.

    The intervals are found by decoding probes with the engine's own function:
    a logit of 1 on low-resolution row c and -1e-30 elsewhere shows at output
    row y exactly when row c's weight there is nonzero. The weights come from
    the same two resizes of an identity. Rows and columns are resized
    separately, so each axis is probed with the other one pixel wide."""

    def __init__(self, meta: VideoMeta, low_hw: tuple[int, int]):
        self.low_hw = tuple(low_hw)
        h, w = low_hw
        (self.row_lo, self.row_hi), self.row_weights = self._axis(h, meta.padded_hw[0], meta.input_hw[0],
                                                                  meta.frame_hw[0])
        (self.col_lo, self.col_hi), self.col_weights = self._axis(w, meta.padded_hw[1], meta.input_hw[1],
                                                                  meta.frame_hw[1])
        self.widest = (int((self.row_hi - self.row_lo).max()) + 1, int((self.col_hi - self.col_lo).max()) + 1)
        # The weights as bands: band[y, d] is the weight of low-resolution row lo[y] + d.
        self.row_band = self._band(self.row_weights, self.row_lo, self.widest[0])
        self.col_band = self._band(self.col_weights, self.col_lo, self.widest[1])

    @staticmethod
    def _band(weights: np.ndarray, lo: np.ndarray, width: int) -> np.ndarray:
        n_out, n_low = weights.shape
        idx = np.minimum(lo[:, None] + np.arange(width)[None, :], n_low - 1)
        band = np.take_along_axis(weights, idx, axis=1)
        band[lo[:, None] + np.arange(width)[None, :] >= n_low] = 0
        return band.astype(np.float32)

    @staticmethod
    def _axis(n_low: int, padded: int, inp: int, out: int):
        probe = torch.full((n_low, n_low, 1), -1e-30)
        probe[torch.arange(n_low), torch.arange(n_low), 0] = 1.0
        reads = logits_to_frame_masks(probe, input_hw=(inp, 1), padded_hw=(padded, 4),
                                      frame_hw=(out, 1))[:, :, 0].T.numpy()  # (out, n_low)
        x = F.interpolate(torch.eye(n_low)[None, :, :, None], size=(padded, 1), mode="bilinear", align_corners=False)
        weights = F.interpolate(x[:, :, :inp], size=(out, 1), mode="bilinear", align_corners=False)[0, :, :, 0].T
        weights = np.ascontiguousarray(weights.numpy())
        reads |= weights != 0  # the union: reading more than needed is always safe
        if not reads.any(1).all():
            raise AssertionError("an output row reads no input row: the decode is not a resize")
        lo = reads.argmax(1)
        hi = n_low - 1 - reads[:, ::-1].argmax(1)
        if not (reads.sum(1) == hi - lo + 1).all():
            raise AssertionError("an output row reads non-adjacent input rows")
        return (lo, hi), weights

    def kept(self, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For N sign maps (N, h, w): the pixels some output pixel reads
        together with a pixel of the other sign (its support mixes signs), and
        (N,) whether some output pixel reads positive pixels only."""
        n, h, w = positive.shape
        out = np.zeros_like(positive)
        all_positive = np.zeros(n, bool)
        for a, row_ok in self._starts(self.row_lo, self.row_hi, h).items():
            rows_any, rows_all = _slide(positive, a, axis=1)
            for b, col_ok in self._starts(self.col_lo, self.col_hi, w).items():
                any_ = _slide(rows_any, b, axis=2)[0]
                all_ = _slide(rows_all, b, axis=2)[1]
                occurs = row_ok[: h - a + 1, None] & col_ok[None, : w - b + 1]  # supports some output has
                all_positive |= (all_ & occurs).reshape(n, -1).any(1)
                mixed = any_ & ~all_ & occurs
                for y in range(a):  # every pixel of a mixed support
                    for x in range(b):
                        out[:, y:y + mixed.shape[1], x:x + mixed.shape[2]] |= mixed
        return out, all_positive

    @staticmethod
    def _starts(lo: np.ndarray, hi: np.ndarray, n_low: int) -> dict:
        """{support length: (n_low,) bool, where supports of that length start}."""
        out = {}
        for length in np.unique(hi - lo + 1):
            ok = np.zeros(n_low, bool)
            ok[lo[hi - lo + 1 == length]] = True
            out[int(length)] = ok
        return out

    def outputs_reading(self, rows: tuple[int, int], cols: tuple[int, int]) -> tuple[slice, slice]:
        """The output rows and columns whose support meets low-resolution rows
        rows[0]..rows[1] (columns likewise): a block, since supports move monotonically."""
        def axis(lo, hi, a, b):
            hit = np.flatnonzero((hi >= a) & (lo <= b))
            return slice(int(hit[0]), int(hit[-1]) + 1)
        return axis(self.row_lo, self.row_hi, *rows), axis(self.col_lo, self.col_hi, *cols)

    def resize_block(self, x: np.ndarray, ys: slice, xs: slice) -> np.ndarray:
        """Output values on the block (ys, xs) of one (h, w) map: the decode's
        resize as two products, reading only the low-resolution rows and
        columns the block needs. Equal to the decode's values up to float32
        rounding (which the margin covers). As sums over the bands of the
        weights: a few vector operations, none of BLAS's threading, which costs
        more than it saves on products this small."""
        h = x.shape[0]
        c0, c1 = int(self.col_lo[xs].min()), int(self.col_hi[xs].max()) + 1
        rows = np.zeros((ys.stop - ys.start, c1 - c0), np.float32)
        for d in range(self.widest[0]):  # each output row: a few weighted low-resolution rows
            rows += self.row_band[ys, d][:, None] * x[np.minimum(self.row_lo[ys] + d, h - 1), c0:c1]
        out = np.zeros((rows.shape[0], xs.stop - xs.start), np.float32)
        for d in range(self.widest[1]):
            out += self.col_band[xs, d][None, :] * rows[:, np.minimum(self.col_lo[xs] + d, c1 - 1) - c0]
        return out

    def under(self, pixels: np.ndarray, ys: slice, xs: slice) -> np.ndarray:
        """(h, w) bool: the low-resolution pixels that the output pixels
        `pixels` ((len ys, len xs) bool, a block at ys.start, xs.start) read."""
        out = np.zeros(self.low_hw, bool)
        y, x = np.nonzero(pixels)
        y, x = y + ys.start, x + xs.start
        for dy in range(self.widest[0]):
            for dx in range(self.widest[1]):
                r, c = self.row_lo[y] + dy, self.col_lo[x] + dx
                ok = (r <= self.row_hi[y]) & (c <= self.col_hi[x])
                out[r[ok], c[ok]] = True
        return out


def _slide(bits: np.ndarray, size: int, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(any, all) of `size` consecutive entries along `axis`, for every start
    (the axis shrinks by size - 1). Boolean shifts: no sums, no gathers."""
    n = bits.shape[axis]

    def part(k):
        index = [slice(None)] * bits.ndim
        index[axis] = slice(k, n - size + 1 + k)
        return bits[tuple(index)]

    any_, all_ = part(0).copy(), part(0).copy()
    for k in range(1, size):
        any_ |= part(k)
        all_ &= part(k)
    return any_, all_


# ---- compacting the mask codes ----------------------------------------------------

def _bits_qhw(counts: bytes, offsets: np.ndarray, shape) -> np.ndarray:
    """The Q RLE maps stored back to back -> (Q, h, w) bool."""
    q, h, w = shape
    if q == 0:
        return np.zeros((0, h, w), bool)
    rles = [{"size": [h, w], "counts": counts[offsets[i]:offsets[i + 1]]} for i in range(q)]
    return mask_util.decode(rles).transpose(2, 0, 1).astype(bool)


def _encode(bits_qhw: np.ndarray) -> tuple[bytes, np.ndarray]:
    """(Q, h, w) bool -> the Q compressed RLE strings back to back, and their offsets."""
    rles = mask_util.encode(np.asfortranarray(bits_qhw.transpose(1, 2, 0).astype(np.uint8)))
    offsets = np.zeros(len(rles) + 1, np.int64)
    offsets[1:] = np.cumsum([len(r["counts"]) for r in rles])
    return b"".join(r["counts"] for r in rles), offsets


def _column_major(values_qhw: np.ndarray, keep_qhw: np.ndarray) -> np.ndarray:
    """Values of the kept pixels, mask after mask, column-major within each
    (the order FrameMaskCode stores band values in)."""
    return values_qhw.transpose(0, 2, 1)[keep_qhw.transpose(0, 2, 1)]


@dataclass
class _Frame:
    """One frame's compacted codes, as the arrays the file holds. Offsets are
    (Q + 1,) starts of each mask's part, within this frame."""

    sign_counts: bytes
    sign_offsets: np.ndarray
    band_counts: bytes
    band_offsets: np.ndarray
    value_offsets: np.ndarray
    values16: np.ndarray  # every kept value, fp16
    exact: np.ndarray  # bool per kept value: its float32 value is needed
    values32: np.ndarray  # those float32 values, in order
    nonempty: np.ndarray  # (Q,) bool

    def code(self, shape) -> FrameMaskCode:
        values = self.values16.astype(np.float32)
        values[self.exact] = self.values32
        return FrameMaskCode(sign_counts=self.sign_counts, band_counts=self.band_counts, values=values,
                             offsets=np.stack([self.sign_offsets, self.band_offsets, self.value_offsets]),
                             shape=tuple(shape))


@np.errstate(over="ignore", invalid="ignore")  # fp16 overflows and inf - inf are expected, and handled
def _compact_frame(code: FrameMaskCode, meta: VideoMeta, geometry: Geometry) -> _Frame:
    q, h, w = code.shape
    logits = code.decode().numpy()  # the engine's decode: exact values in its band, +-1 elsewhere
    positive = logits > 0
    band = _bits_qhw(code.band_counts, code.offsets[1], code.shape)
    finite = np.isfinite(logits)
    magnitude = np.abs(np.where(finite, logits, 0))
    mixed, reads_all_positive = geometry.kept(positive)
    kept = mixed | (band & (~finite | ((magnitude < TINY) & (magnitude > 0))))
    decoded = np.where(kept, logits, np.where(positive, 1.0, -1.0)).astype(np.float32)
    must_be_exact = kept & (~finite | (magnitude < FP16_MIN) | (magnitude > FP16_MAX))
    rounded = np.where(kept & ~must_be_exact, decoded.astype(np.float16).astype(np.float32), decoded)
    # What rounding (and float32 arithmetic) can move an output by, per input value. Non-finite
    # values are stored exactly, and an output reading one is inf or NaN either way: count them as 0.
    usable = np.isfinite(decoded)
    slack = np.where(usable, np.abs(rounded - decoded) + MARGIN * np.abs(decoded), 0).astype(np.float32)
    readable = np.where(usable, decoded, 0).astype(np.float32)  # what the resize reads

    exact = must_be_exact.copy()
    nonempty = reads_all_positive.copy()
    for i in range(q):
        rows, cols = np.flatnonzero(kept[i].any(1)), np.flatnonzero(kept[i].any(0))
        if not len(rows):
            continue  # no output pixel reads both signs: every one is +1 or -1
        # Only outputs whose support mixes signs can be near 0: all lie in this block.
        ys, xs = geometry.outputs_reading((rows[0], rows[-1]), (cols[0], cols[-1]))
        value = geometry.resize_block(readable[i], ys, xs)
        bound = geometry.resize_block(slack[i], ys, xs) * 1.01
        risky = np.abs(value) <= bound
        if risky.any():  # keep float32 values under these pixels, so they cannot move
            exact[i] |= kept[i] & geometry.under(risky, ys, xs)
        if not nonempty[i]:
            if risky.any() or not usable[i].all():  # too close to call: decode this mask
                nonempty[i] = bool((_resize(torch.from_numpy(decoded[i:i + 1]), meta) > 0).any())
            else:
                nonempty[i] = bool((value > 0).any())

    band_counts, band_offsets = _encode(kept)
    exact_flat = _column_major(exact, kept)
    value_offsets = np.zeros(q + 1, np.int64)
    value_offsets[1:] = np.cumsum(kept.reshape(q, -1).sum(1))
    return _Frame(sign_counts=code.sign_counts, sign_offsets=np.asarray(code.offsets[0], np.int64).copy(),
                  band_counts=band_counts, band_offsets=band_offsets, value_offsets=value_offsets,
                  values16=_column_major(rounded, kept).astype(np.float16), exact=exact_flat,
                  values32=_column_major(decoded, kept)[exact_flat].astype(np.float32), nonempty=nonempty)


def _frames(analysis: VideoAnalysis, progress=None) -> list[_Frame]:
    codes = analysis.mask_codes
    shape = codes[0].shape
    geometry = Geometry(analysis.meta, shape[1:])
    out = []
    for t, code in enumerate(codes):
        if tuple(code.shape) != tuple(shape):
            raise ValueError(f"frame {t} holds masks of shape {code.shape}, frame 0 {shape}")
        out.append(_compact_frame(code, analysis.meta, geometry))
        if progress is not None:
            progress(t + 1, len(codes))
    return out


def _with_codes(analysis: VideoAnalysis, codes: list[FrameMaskCode], pooled: torch.Tensor) -> VideoAnalysis:
    return VideoAnalysis(meta=analysis.meta, object_logits=analysis.object_logits, ious=analysis.ious,
                         pooled=pooled, pool_empty=analysis.pool_empty, pos_sigmoid_sum=analysis.pos_sigmoid_sum,
                         pos_count=analysis.pos_count, mask_codes=codes, cache_bytes=analysis.cache_bytes)


def compact(analysis: VideoAnalysis, progress=None) -> StoredAnalysis:
    """The analysis as `save` stores it: fp16 pooled vectors, mask codes that
    decode to the same masks with fewer (and mostly fp16) exact values.
    progress(frames done, frames) is called per frame."""
    frames = _frames(analysis, progress)
    shape = analysis.mask_codes[0].shape
    stored = _with_codes(analysis, [f.code(shape) for f in frames], analysis.pooled.detach().to(torch.float16))
    return StoredAnalysis(analysis=stored, mask_nonempty=np.stack([f.nonempty for f in frames], 1), _frames=frames)


# ---- the file ---------------------------------------------------------------------

def _frames_of(stored: StoredAnalysis) -> list[_Frame]:
    """The frames' arrays: kept from `compact`, or taken from compact codes
    (an analysis `load` read, saved again)."""
    if stored._frames is not None:
        return stored._frames
    out = []
    for code in stored.analysis.mask_codes:
        values = np.asarray(code.values, np.float32)
        as16 = values.astype(np.float16)
        exact = ~(as16.astype(np.float32) == values) | ~np.isfinite(values)
        out.append(_Frame(sign_counts=code.sign_counts, sign_offsets=np.asarray(code.offsets[0], np.int64),
                          band_counts=code.band_counts, band_offsets=np.asarray(code.offsets[1], np.int64),
                          value_offsets=np.asarray(code.offsets[2], np.int64), values16=as16, exact=exact,
                          values32=values[exact], nonempty=np.zeros(0, bool)))
    return out


def _arrays(stored: StoredAnalysis) -> dict:
    a = stored.analysis
    frames = _frames_of(stored)

    def cat(parts, dtype):
        return np.concatenate([np.asarray(p, dtype) for p in parts]) if parts else np.zeros(0, dtype)

    return {
        "object_logits": a.object_logits.float().numpy(), "ious": a.ious.float().numpy(),
        "pooled": a.pooled.to(torch.float16).numpy(), "pool_empty": a.pool_empty.numpy().astype(np.uint8),
        "pos_sigmoid_sum": a.pos_sigmoid_sum.float().numpy(), "pos_count": a.pos_count.float().numpy(),
        "mask_nonempty": np.asarray(stored.mask_nonempty, np.uint8),
        # Per frame, the Q masks' parts back to back; offsets are within the frame.
        "sign_counts": np.frombuffer(b"".join(f.sign_counts for f in frames), np.uint8),
        "band_counts": np.frombuffer(b"".join(f.band_counts for f in frames), np.uint8),
        "offsets": np.stack([np.stack([f.sign_offsets, f.band_offsets, f.value_offsets]) for f in frames]),
        "values16": cat([f.values16 for f in frames], np.float16),
        "exact_bits": np.packbits(cat([f.exact for f in frames], bool)),
        "values32": cat([f.values32 for f in frames], np.float32),
    }


def save(stored: StoredAnalysis, path) -> Path:
    """Write atomically (a reader sees the old file or the whole new one) and
    fsync, so the file is durable when this returns."""
    a = stored.analysis
    header = {"format": FORMAT, "meta": asdict(a.meta), "mask_shape": list(a.mask_codes[0].shape)}
    path = Path(path)
    with atomic_path(path, suffix=".tmp") as tmp:
        save_file(_arrays(stored), str(tmp), metadata={"clipvis": json.dumps(header)})
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
    fsync_dir(path.parent)
    return path


def load(path) -> StoredAnalysis:
    """Read a file `save` wrote. Raises AnalysisFileError if it is not one,
    or is damaged; reading it runs no code from it."""
    path = Path(path)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            raw = (f.metadata() or {}).get("clipvis")
        arrays = load_file(str(path))
    except Exception as e:  # safetensors' own errors: a truncated or foreign file
        raise AnalysisFileError(f"{path.name} cannot be read as an analysis ({type(e).__name__}: {e})") from None
    if raw is None:
        raise AnalysisFileError(f"{path.name} is not a stored analysis")
    header = json.loads(raw)
    if header.get("format") != FORMAT:
        raise AnalysisFileError(f"{path.name} was written as {header.get('format')!r}; this version reads {FORMAT}")
    fields = header["meta"]
    meta = VideoMeta(**{**fields, **{k: tuple(fields[k]) for k in ("frame_hw", "input_hw", "padded_hw")}})
    shape = tuple(header["mask_shape"])
    offsets = arrays["offsets"]
    if offsets.shape != (meta.num_frames, 3, shape[0] + 1):
        raise AnalysisFileError(f"{path.name}: its mask tables do not describe {meta.num_frames} frames "
                                f"of {shape[0]} masks")
    values16 = arrays["values16"]
    values = values16.astype(np.float32)
    exact = np.unpackbits(arrays["exact_bits"], count=len(values16)).astype(bool)
    if int(exact.sum()) != len(arrays["values32"]):
        raise AnalysisFileError(f"{path.name}: its exact values do not match their index")
    values[exact] = arrays["values32"]
    sign_bytes, band_bytes = arrays["sign_counts"].tobytes(), arrays["band_counts"].tobytes()
    ends = np.cumsum(offsets[:, :, -1], axis=0)  # where each frame's parts end, per kind
    if tuple(ends[-1]) != (len(sign_bytes), len(band_bytes), len(values)):
        raise AnalysisFileError(f"{path.name}: its mask tables do not match the stored bytes")
    starts = ends - offsets[:, :, -1]
    codes = []
    for t in range(meta.num_frames):
        s, b, v = (int(x) for x in starts[t])
        codes.append(FrameMaskCode(sign_counts=sign_bytes[s:int(ends[t, 0])], band_counts=band_bytes[b:int(ends[t, 1])],
                                   values=values[v:int(ends[t, 2])], offsets=offsets[t], shape=shape))

    def tensor(name):
        return torch.from_numpy(np.ascontiguousarray(arrays[name]))

    analysis = VideoAnalysis(meta=meta, object_logits=tensor("object_logits"), ious=tensor("ious"),
                             pooled=tensor("pooled"), pool_empty=tensor("pool_empty").bool(),
                             pos_sigmoid_sum=tensor("pos_sigmoid_sum"), pos_count=tensor("pos_count"),
                             mask_codes=codes)
    return StoredAnalysis(analysis=analysis, mask_nonempty=arrays["mask_nonempty"].astype(bool))


# ---- checking ---------------------------------------------------------------------

def mask_mismatches(a: VideoAnalysis, b: VideoAnalysis) -> list[tuple[int, int, int]]:
    """[(frame, query, pixels that differ)] between the decoded masks of two
    analyses of one video: empty when they decode identically."""
    out = []
    for t in range(a.num_frames):
        qs = list(range(a.num_queries))
        x, y = a.query_masks(t, qs), b.query_masks(t, qs)
        diff = (x != y).reshape(len(qs), -1).sum(1)
        out += [(t, q, int(d)) for q, d in enumerate(diff) if d]
    return out

