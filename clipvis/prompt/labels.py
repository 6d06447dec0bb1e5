"""Open-vocabulary labels for a clicked track, from CLIP-VIS's own CLIP.

A track's CLIP vector is pooled once, from up to `k` of its frames: on each,
the dense CLIP map is averaged inside the SAM 2 mask by the backbone's mask
pooling (as the engine pools its own masks), and the k unit vectors are
averaged. Which frames: the frames where the mask is not empty, cut into k
runs of equal length, and from each run the frame with the largest mask. The
runs spread the frames over the whole track (an object changes its look), the
largest mask avoids frames where it is small or half hidden, whose few dense
cells (one per 32x32 pixels) mostly hold the background.

k bounds the cost: each frame is one pass of the CLIP backbone (about 1 s for
ConvNeXt-B at 480p on a CPU, milliseconds on a GPU), whatever the track's
length. The vector is classified like the model's tracks (the engine's text
classifier and logits), and kept: a new vocabulary re-labels it without any
frame.
"""
from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from clipvis.formats.rle import rle_area, rle_to_mask

from .engine import EngineCLIP
from .frames import frame_source
from .prompts import PromptError

DEFAULT_POOL_FRAMES = 8


class ClassScore(NamedTuple):
    category_id: int
    name: str
    score: float  # the class's probability over the vocabulary (softmax of the classifier's logits)


def select_frames(areas: Mapping[int, int], k: int = DEFAULT_POOL_FRAMES) -> list[int]:
    """Up to k frames, ascending: the frames with a non-empty mask cut into k
    runs of (nearly) equal length, and from each the one with the largest
    mask (the earliest of equals)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    frames = sorted(f for f, a in areas.items() if a > 0)
    k = min(k, len(frames))
    if k == 0:
        return []
    bounds = [i * len(frames) // k for i in range(k + 1)]
    return [max(frames[a:b], key=lambda f: (areas[f], -f)) for a, b in zip(bounds[:-1], bounds[1:])]


def mask_cells(mask: np.ndarray, input_hw: tuple[int, int], padded_hw: tuple[int, int],
               dense_hw: tuple[int, int]) -> torch.Tensor:
    """A frame-size mask -> (h, w) logits on the dense map's cells (+1 inside,
    -1 outside), the form the backbone's pooling takes. A cell is inside when
    the mask covers more than half of it (the engine's masks are cut at the
    same 0.5 after resizing); a mask smaller than any cell keeps the cells it
    covers most, rather than pooling nothing."""
    m = torch.from_numpy(np.ascontiguousarray(mask, dtype=np.float32))[None, None]
    m = F.interpolate(m, size=input_hw, mode="area")
    m = F.pad(m, (0, padded_hw[1] - input_hw[1], 0, padded_hw[0] - input_hw[0]))
    cover = F.interpolate(m, size=tuple(dense_hw), mode="area")[0, 0]
    inside = cover > 0.5
    if not inside.any():
        inside = cover >= cover.max()
    return torch.where(inside, 1.0, -1.0)


def pool_track(clip: EngineCLIP, frames, masks: Mapping[int, np.ndarray | dict], *,
               k: int = DEFAULT_POOL_FRAMES) -> torch.Tensor:
    """The track's CLIP vector (D,) from its masks: {frame index: (H, W) bool
    mask or COCO RLE}. Frames: as for the tracker (sequence, clipvis.video
    source, iterable)."""
    source = frame_source(frames)
    areas = {int(f): _area(m) for f, m in masks.items()}
    chosen = select_frames(areas, k)
    if not chosen:
        raise PromptError("the track has no mask on any frame, so there is nothing to label")
    vectors = []
    for f, frame in source.frames_at(chosen):
        mask = _as_mask(masks[f])
        if mask.shape != frame.shape[:2]:
            raise PromptError(f"the mask of frame {f} is {mask.shape[1]}x{mask.shape[0]}, "
                              f"the frame {frame.shape[1]}x{frame.shape[0]}")
        dense = clip.dense_map(frame)
        cells = mask_cells(mask, dense.input_hw, dense.padded_hw, dense.features.shape[-2:])
        vectors.append(F.normalize(clip.pool(dense.features, cells[None, None])[0, 0], dim=-1))
    return torch.stack(vectors).mean(0)


def classify_track(clip: EngineCLIP, vector: torch.Tensor, vocabulary, *, topk: int = 5) -> list[ClassScore]:
    """The track's top classes in `vocabulary`, best first."""
    rows, per_class = clip.text_classifier(vocabulary)
    probs = clip.class_logits(torch.as_tensor(vector).float()[None], rows, per_class)[0].softmax(-1)
    scores, order = probs.topk(min(topk, len(vocabulary)))
    return [ClassScore(vocabulary.classes[i].id, vocabulary.classes[i].name, float(s))
            for s, i in zip(scores.tolist(), order.tolist())]


def _area(mask) -> int:
    return rle_area(mask) if isinstance(mask, dict) else int(np.count_nonzero(mask))


def _as_mask(mask) -> np.ndarray:
    return rle_to_mask(mask) if isinstance(mask, dict) else np.asarray(mask, dtype=bool)
