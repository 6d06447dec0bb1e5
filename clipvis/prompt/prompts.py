"""What a person gives on one frame: positive/negative points and a box, or
a whole mask (e.g. a track's mask, to carry it on from that frame)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_POINTS = 64  # per frame; a prompt's cost stays small and bounded


class PromptError(ValueError):
    """A prompt the tracker cannot use; the message says why."""


@dataclass(frozen=True, eq=False)  # eq=False: a mask (an array) has no truth value
class Prompt:
    """Points (x, y) in the frame's pixels, each with a label (1: on the
    object, 0: not on it), and/or a box (x0, y0, x1, y1); or instead a mask
    (H, W) of the frame's size, taken as the object's exact mask there (SAM 2
    takes a mask alone). A prompt replaces the frame's earlier one, so a
    refining click sends all points so far."""

    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    mask: np.ndarray | None = None

    @classmethod
    def click(cls, x: float, y: float, positive: bool = True) -> "Prompt":
        return cls(points=((x, y),), labels=(1 if positive else 0,))

    def checked(self, frame_hw: tuple[int, int]) -> "Prompt":
        """This prompt with plain floats/ints, or PromptError saying what is wrong."""
        h, w = frame_hw
        if self.mask is not None:
            return self._checked_mask(frame_hw)
        points = tuple(tuple(p) for p in self.points)
        labels = tuple(self.labels)
        if not points and self.box is None:
            raise PromptError("a prompt needs at least one point or a box")
        if len(points) != len(labels):
            raise PromptError(f"{len(points)} points but {len(labels)} labels: give one label (1 or 0) per point")
        if len(points) > MAX_POINTS:
            raise PromptError(f"{len(points)} points on one frame; at most {MAX_POINTS}")
        if any(lab not in (0, 1) for lab in labels):
            raise PromptError("point labels are 1 (on the object) or 0 (not on it)")
        if labels and all(lab == 0 for lab in labels) and self.box is None:
            raise PromptError("only negative points: click on the object at least once, or draw a box")
        out_points = []
        for p in points:
            if len(p) != 2 or not all(_finite(v) for v in p):
                raise PromptError(f"a point is (x, y) in pixels; got {p!r}")
            x, y = float(p[0]), float(p[1])
            if not (0 <= x <= w and 0 <= y <= h):
                raise PromptError(f"the point ({x:g}, {y:g}) is outside the {w}x{h} frame")
            out_points.append((x, y))
        box = None
        if self.box is not None:
            b = tuple(self.box)
            if len(b) != 4 or not all(_finite(v) for v in b):
                raise PromptError(f"a box is (x0, y0, x1, y1) in pixels; got {self.box!r}")
            x0, y0, x1, y1 = (float(v) for v in b)
            x0, x1 = sorted((min(max(x0, 0.0), w), min(max(x1, 0.0), w)))
            y0, y1 = sorted((min(max(y0, 0.0), h), min(max(y1, 0.0), h)))
            if x1 - x0 < 1 or y1 - y0 < 1:
                raise PromptError(f"the box {self.box!r} covers no pixel of the {w}x{h} frame")
            box = (x0, y0, x1, y1)
        return Prompt(points=tuple(out_points), labels=tuple(int(v) for v in labels), box=box)

    def _checked_mask(self, frame_hw: tuple[int, int]) -> "Prompt":
        if self.points or self.box is not None:
            raise PromptError("a mask prompt stands alone: give points and a box, or a mask")
        mask = np.asarray(self.mask)
        if mask.shape != tuple(frame_hw):
            raise PromptError(f"the mask is {'x'.join(map(str, mask.shape[::-1]))}, the frame "
                              f"{frame_hw[1]}x{frame_hw[0]}")
        mask = mask.astype(bool)
        if not mask.any():
            raise PromptError("the mask is empty: it must cover the object")
        return Prompt(mask=mask)


def _finite(v) -> bool:
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False
