"""The pixels the browser viewer draws over a frame, rendered from the RLE masks.

The browser shows the display JPEG of a frame and, on top of it, one overlay
image holding every shown instance of that frame (colour fill plus outline,
smaller instances on top of larger ones, so what is on top is what a click
picks). The selected instance is drawn by the browser from its own mask
(`mask_png`), which is why the overlay does not depend on the
selection and stays cached while the user selects.

Labels are not burnt in: the browser draws them from the boxes returned with
the overlay, so class names appear exactly as typed (any script, any
character) and stay readable at any zoom.

Masks are stored at the video's full size; everything here is at the size of
the display frame. One label map is filled at full size (column-major, as
pycocotools decodes) and shrunk once, instead of shrinking every mask.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from clipvis.formats.overlay import instance_color

FILL_ALPHA = 110  # of 255: the frame stays readable under the masks
OUTLINE_ALPHA = 255
PNG_FAST = [cv2.IMWRITE_PNG_COMPRESSION, 1]  # mostly transparent images: fast and still small


def track_color(track_id: int) -> tuple[int, int, int]:
    """The one colour of a track everywhere: frame, list, timeline, exports' overlay video."""
    return instance_color(track_id)


def hex_color(rgb) -> str:
    return "#%02x%02x%02x" % tuple(int(c) for c in rgb)


@dataclass(frozen=True)
class Geometry:
    """Full-size (h, w) of the masks and display size (w, h) of the frames."""

    full_hw: tuple[int, int]
    display_wh: tuple[int, int]

    def box_to_display(self, box) -> list[int]:
        """[x, y, w, h] at full size -> the same box in display pixels (rounded outwards)."""
        sx = self.display_wh[0] / self.full_hw[1]
        sy = self.display_wh[1] / self.full_hw[0]
        x0, y0 = int(np.floor(box[0] * sx)), int(np.floor(box[1] * sy))
        x1, y1 = int(np.ceil((box[0] + box[2]) * sx)), int(np.ceil((box[1] + box[3]) * sy))
        return [x0, y0, max(x1 - x0, 1), max(y1 - y0, 1)]

    def to_full(self, x: float, y: float) -> tuple[int, int] | None:
        """A display pixel -> the full-size pixel under it, or None outside the frame."""
        dw, dh = self.display_wh
        if not (0 <= x < dw and 0 <= y < dh):
            return None
        h, w = self.full_hw
        return min(int(x * w / dw), w - 1), min(int(y * h / dh), h - 1)


def stacking(masks) -> list[tuple[int, np.ndarray]]:
    """masks: [(track id, full-size bool mask), ...] of one frame. The non-empty
    ones, largest first: drawn in this order, smaller instances end up on top,
    where a click finds them."""
    areas = [(int(np.count_nonzero(m)), tid, m) for tid, m in masks]
    return [(tid, m) for area, tid, m in sorted(areas, key=lambda a: (-a[0], a[1])) if area > 0]


def mask_box(mask: np.ndarray) -> list[int]:
    """[x, y, w, h] of a non-empty mask."""
    ys, xs = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return [int(xs[0]), int(ys[0]), int(xs[-1] - xs[0] + 1), int(ys[-1] - ys[0] + 1)]


def render_overlay(masks, geo: Geometry) -> tuple[bytes | None, list[list[int]]]:
    """(PNG of one frame's shown instances at display size, or None if none is there; boxes).

    masks: [(track id, full-size bool mask), ...]; boxes: [[track id, x, y, w, h], ...]
    in display pixels, in drawing order.
    """
    present = stacking(masks)
    if not present:
        return None, []
    h, w = geo.full_hw
    n = len(present)
    dtype = np.uint8 if 2 * n < 256 else np.uint16
    index = np.zeros((h, w), dtype=dtype, order="F" if present[0][1].flags.f_contiguous else "C")
    for k, (_, m) in enumerate(present):
        np.copyto(index, k + 1, where=m)
    index = np.ascontiguousarray(index)
    dw, dh = geo.display_wh
    if (dw, dh) != (w, h):
        index = cv2.resize(index, (dw, dh), interpolation=cv2.INTER_NEAREST)
    # An outline pixel is one next to another instance (or to none): it takes index k + n.
    edge = np.zeros(index.shape, bool)
    edge[:, :-1] |= index[:, :-1] != index[:, 1:]
    edge[:-1, :] |= index[:-1, :] != index[1:, :]
    edge[:, 1:] |= index[:, 1:] != index[:, :-1]
    edge[1:, :] |= index[1:, :] != index[:-1, :]
    edge &= index > 0
    index[edge] += n
    colors = [track_color(tid) for tid, _ in present]
    boxes = [[tid, *geo.box_to_display(mask_box(m))] for tid, m in present]
    return encode_indexed(index, colors), boxes


def encode_indexed(index: np.ndarray, colors) -> bytes:
    """A PNG of an index map: 0 transparent, k (1..n) colour k-1 at the fill's
    opacity, n+k the same colour opaque (outlines). A palette PNG is a quarter
    of the pixels of RGBA and ten times faster to encode; past 127 instances
    on one frame (no palette room) it is written as RGBA."""
    n = len(colors)
    lut = np.zeros((2 * n + 1, 4), np.uint8)
    for k, (r, g, b) in enumerate(colors):
        lut[k + 1] = (r, g, b, FILL_ALPHA)
        lut[n + k + 1] = (r, g, b, OUTLINE_ALPHA)
    if index.dtype != np.uint8:
        return encode_png(cv2.cvtColor(lut[index], cv2.COLOR_RGBA2BGRA))
    image = Image.fromarray(index, "P")
    image.putpalette(lut[:, :3].tobytes())
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1, transparency=lut[:, 3].tobytes())
    return out.getvalue()


def display_mask(mask: np.ndarray, geo: Geometry) -> np.ndarray:
    """A full-size bool mask at the display size."""
    dw, dh = geo.display_wh
    if (mask.shape[1], mask.shape[0]) == (dw, dh):
        return mask
    return cv2.resize(np.ascontiguousarray(mask).view(np.uint8), (dw, dh), interpolation=cv2.INTER_NEAREST).view(bool)


def mask_png(mask: np.ndarray) -> bytes:
    """A bool mask as opaque white pixels on transparent ones: what the
    browser colours and outlines for the selected instance and the brush."""
    image = Image.fromarray(mask.view(np.uint8), "P")
    image.putpalette(bytes((0, 0, 0, 255, 255, 255)))
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1, transparency=bytes((0, 255)))
    return out.getvalue()


def encode_png(bgra: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", bgra, PNG_FAST)
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return buf.tobytes()


def pick(masks, x: float, y: float, geo: Geometry) -> int | None:
    """The id of the instance drawn on top at display pixel (x, y): the
    smallest mask under the pointer, as `render_overlay` stacks them."""
    at = geo.to_full(x, y)
    if at is None:
        return None
    fx, fy = at
    for tid, m in reversed(stacking(masks)):  # smallest (topmost) first
        if m[fy, fx]:
            return tid
    return None
