"""Result types passed from the engine to the UI, the labeller and the exporters.

`VideoAnalysis` is what one pass over a video leaves behind, independent of
any vocabulary: per query and frame the objectness logits, the mask IoU score,
the pooled CLIP vector and the mask (compressed). `VideoResult` is an analysis
classified against one vocabulary: the instances, their scores and masks.
Re-querying a video with a new vocabulary only builds a new `VideoResult`.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import torch

from .formats.rle import mask_to_rle
from .masks import FrameMaskCode, logits_to_frame_masks
from .vocab import Vocabulary


@dataclass(frozen=True)
class VideoMeta:
    num_frames: int
    frame_hw: tuple[int, int]  # output size (the frames' own size)
    input_hw: tuple[int, int]  # resized model input, unpadded
    padded_hw: tuple[int, int]
    clip_kind: str = "convnext"  # "resnet" zeroes the logits of empty masks (official rule)

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError("a video analysis needs at least one frame")


@dataclass
class VideoAnalysis:
    """Per query (Q) and frame (T), after temporal matching (slots aligned).

    object_logits: (Q, T, 2); ious: (Q, T); pooled: (Q, T, D) CLIP vectors;
    pool_empty: (Q, T) bool, mask empty at the dense map's size;
    pos_sigmoid_sum / pos_count: (Q, T) sum of sigmoid(logit) and count over
    low-resolution pixels with logit > 0 (the official mask-score rescoring);
    mask_codes: T compressed frames of Q low-resolution mask logits.
    """

    meta: VideoMeta
    object_logits: torch.Tensor
    ious: torch.Tensor
    pooled: torch.Tensor
    pool_empty: torch.Tensor
    pos_sigmoid_sum: torch.Tensor
    pos_count: torch.Tensor
    mask_codes: list[FrameMaskCode]
    cache_bytes: int = 256 * 2**20  # budget of decoded full-size masks kept for redraws
    _frame_cache: OrderedDict = field(default_factory=OrderedDict, repr=False)

    def __post_init__(self):
        self._frame_cache = OrderedDict(self._frame_cache)
        q, t = self.ious.shape
        if t != self.meta.num_frames or len(self.mask_codes) != t:
            raise ValueError(f"analysis holds {t} frames of scores and {len(self.mask_codes)} of masks, "
                             f"meta says {self.meta.num_frames}")
        for name in ("object_logits", "pooled", "pool_empty", "pos_sigmoid_sum", "pos_count"):
            if tuple(getattr(self, name).shape[:2]) != (q, t):
                raise ValueError(f"{name} has shape {tuple(getattr(self, name).shape)}, expected ({q}, {t}, ...)")

    def __getstate__(self):
        # Saved analyses leave out the decoded-mask cache: it is derived, and large.
        state = dict(self.__dict__)
        state["_frame_cache"] = OrderedDict()
        return state

    def clear_mask_cache(self):
        self._frame_cache.clear()

    @property
    def num_queries(self) -> int:
        return self.ious.shape[0]

    @property
    def num_frames(self) -> int:
        return self.meta.num_frames

    def objectness(self) -> torch.Tensor:
        """(Q,) probability of 'object' from the frame-averaged logits."""
        return self.object_logits.mean(1).softmax(-1)[:, 0]

    def query_masks(self, t: int, queries) -> np.ndarray:
        """(len(queries), H, W) bool masks of the given query slots on frame t."""
        queries = list(queries)
        missing = [q for q in queries if (t, q) not in self._frame_cache]
        if missing:
            logits = self.mask_codes[t].decode(missing)
            masks = logits_to_frame_masks(logits, input_hw=self.meta.input_hw, padded_hw=self.meta.padded_hw,
                                          frame_hw=self.meta.frame_hw).numpy()
            out = dict(zip(missing, masks))
            for q, m in out.items():
                self._frame_cache[(t, q)] = m
        else:
            out = {}
        h, w = self.meta.frame_hw
        if not queries:
            return np.zeros((0, h, w), bool)
        stacked = np.stack([out[q] if q in out else self._frame_cache[(t, q)] for q in queries])
        for q in queries:
            self._frame_cache.move_to_end((t, q))
        # Least recently used masks go first: a long video must not fill memory.
        while len(self._frame_cache) * h * w > self.cache_bytes and self._frame_cache:
            self._frame_cache.popitem(last=False)
        return stacked


@dataclass(frozen=True)
class Instance:
    """One tracked, classified object.

    label: index into the vocabulary; category_id: the vocabulary's id for it.
    present: (T,) frames where it is shown (the official rule blanks frames
    whose per-frame score is under a tenth of the instance score).
    class_scores: (C,) the query's final score for every class (top-5 in UI).
    """

    query: int
    label: int
    category_id: int
    name: str
    score: float
    present: np.ndarray
    frame_scores: np.ndarray
    class_scores: np.ndarray

    def top_classes(self, k: int = 5) -> list[tuple[int, float]]:
        order = np.argsort(-self.class_scores, kind="stable")[:k]
        return [(int(i), float(self.class_scores[i])) for i in order]

    @property
    def first_frame(self) -> int | None:
        idx = np.flatnonzero(self.present)
        return int(idx[0]) if idx.size else None

    @property
    def last_frame(self) -> int | None:
        idx = np.flatnonzero(self.present)
        return int(idx[-1]) if idx.size else None


@dataclass
class VideoResult:
    analysis: VideoAnalysis
    vocabulary: Vocabulary
    instances: list[Instance]  # sorted by score, best first
    class_scores: np.ndarray  # (Q, C) final scores of every query and class

    @property
    def num_frames(self) -> int:
        return self.analysis.num_frames

    @property
    def frame_hw(self) -> tuple[int, int]:
        return self.analysis.meta.frame_hw

    def mask(self, i: int, t: int) -> np.ndarray:
        """(H, W) bool mask of instance i on frame t (empty where not present)."""
        inst = self.instances[i]
        if not inst.present[t]:
            return np.zeros(self.frame_hw, bool)
        return self.analysis.query_masks(t, [inst.query])[0]

    def frame_masks(self, t: int) -> np.ndarray:
        """(N, H, W) bool masks of all instances on frame t."""
        shown = [i for i, inst in enumerate(self.instances) if inst.present[t]]
        out = np.zeros((len(self.instances), *self.frame_hw), bool)
        if shown:
            out[shown] = self.analysis.query_masks(t, [self.instances[i].query for i in shown])
        return out

    def rle(self, i: int, t: int) -> dict | None:
        m = self.mask(i, t)
        if not self.instances[i].present[t]:
            return None
        return mask_to_rle(m)

    def to_results_json(self, video_id: int) -> list[dict]:
        """YTVIS results form, one entry per instance: per frame an RLE.

        Like the official writer, a frame blanked by the per-frame rule gets the
        RLE of an empty mask, not null.
        """
        out = []
        for i, inst in enumerate(self.instances):
            segs = [mask_to_rle(self.mask(i, t)) for t in range(self.num_frames)]
            out.append({"video_id": video_id, "score": float(inst.score),
                        "category_id": int(inst.category_id), "segmentations": segs})
        return out

