"""Result types passed from the engine to the UI, the labeller and the exporters.

`VideoAnalysis` is what one pass over a video leaves behind, independent of
any vocabulary: per query and frame the objectness logits, the mask IoU score,
the pooled CLIP vector and the mask (compressed). `VideoResult` is an analysis
classified against one vocabulary: the instances, their scores and masks.
Re-querying a video with a new vocabulary only builds a new `VideoResult`.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Iterator

import numpy as np
import torch

from .atomic import write_json
from .formats.cocovid import write_cocovid
from .formats.results import results_to_json
from .formats.rle import mask_to_rle
from .formats.ytvis import Annotation, Video, YTVISDataset, write_dataset
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

    def _decode(self, t: int, queries: list) -> np.ndarray:
        logits = self.mask_codes[t].decode(queries)
        return logits_to_frame_masks(logits, input_hw=self.meta.input_hw, padded_hw=self.meta.padded_hw,
                                     frame_hw=self.meta.frame_hw).numpy()

    def query_segmentations(self, queries, present, progress=None) -> list[list]:
        """Per query, per frame: the compressed RLE of its mask, or None where
        `present[k][t]` is False or the mask is empty (the one rule for absent
        frames in every file this package writes).

        queries: Q' query slots; present: (Q', T) bool. One batched decode per
        frame for all the queries; nothing is added to the redraw cache, so one
        pass over a long video does not fill memory. progress(done, total) per frame.
        """
        queries = [int(q) for q in queries]
        present = np.asarray(present, bool).reshape(len(queries), self.num_frames)
        segs = [[None] * self.num_frames for _ in queries]
        for t in range(self.num_frames):
            # A slot listed under several classes is decoded and encoded once.
            slots = sorted({queries[k] for k in range(len(queries)) if present[k, t]})
            rles = {q: mask_to_rle(m) for q, m in zip(slots, self._decode(t, slots)) if m.any()} if slots else {}
            for k, q in enumerate(queries):
                if present[k, t] and q in rles:
                    segs[k][t] = rles[q]
            if progress is not None:
                progress(t + 1, self.num_frames)
        return segs

    def query_masks(self, t: int, queries) -> np.ndarray:
        """(len(queries), H, W) bool masks of the given query slots on frame t."""
        queries = list(queries)
        missing = [q for q in queries if (t, q) not in self._frame_cache]
        if missing:
            out = dict(zip(missing, self._decode(t, missing)))
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
    The result it belongs to binds `analysis` and `vocabulary` (for masks and names).
    """

    query: int
    label: int
    category_id: int
    name: str
    score: float
    present: np.ndarray
    frame_scores: np.ndarray
    class_scores: np.ndarray
    analysis: VideoAnalysis | None = field(default=None, repr=False, compare=False)
    vocabulary: Vocabulary | None = field(default=None, repr=False, compare=False)

    @property
    def track_id(self) -> int:
        """The object's identity over the frames: its query slot. The official
        top-k may list one slot under several classes; those instances are one
        object (same track_id, same masks), and a re-query keeps the id."""
        return self.query

    def top_classes(self, k: int = 5) -> list[tuple[int, str, float]]:
        """[(category_id, name, score), ...] of the k best classes, best first."""
        order = np.argsort(-self.class_scores, kind="stable")[:k]
        classes = self._bound("vocabulary").classes
        return [(classes[i].id, classes[i].name, float(self.class_scores[i])) for i in order]

    @property
    def frames(self) -> list[int]:
        """The frames where it is shown (its mask may still be empty on a few)."""
        return [int(t) for t in np.flatnonzero(self.present)]

    @property
    def first_frame(self) -> int | None:
        idx = np.flatnonzero(self.present)
        return int(idx[0]) if idx.size else None

    @property
    def last_frame(self) -> int | None:
        idx = np.flatnonzero(self.present)
        return int(idx[-1]) if idx.size else None

    def mask(self, frame: int) -> np.ndarray:
        """(H, W) bool mask on `frame`; all False where it is not shown."""
        analysis = self._bound("analysis")
        if not self.present[frame]:
            return np.zeros(analysis.meta.frame_hw, bool)
        return analysis.query_masks(frame, [self.query])[0]

    def bbox(self, frame: int) -> list[float] | None:
        """[x, y, w, h] of the mask on `frame` (as COCO and pycocotools), None
        where it is absent or its mask is empty."""
        m = self.mask(frame)
        rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
        if rows.size == 0:
            return None
        return [float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1)]

    def _bound(self, name: str):
        value = getattr(self, name)
        if value is None:
            raise ValueError(f"this Instance is not part of a VideoResult (no {name}): take it from result.instances")
        return value


@dataclass
class VideoResult:
    """An analysis classified with a vocabulary: `len(result)` instances, best
    first (`for inst in result`), and the files they make:
    `to_dataset()`, `to_results()`, `save(path, format=...)`."""

    analysis: VideoAnalysis
    vocabulary: Vocabulary
    instances: list[Instance]  # sorted by score, best first
    class_scores: np.ndarray  # (Q, C) final scores of every query and class

    def __post_init__(self):
        self.instances = [inst if inst.analysis is self.analysis and inst.vocabulary is self.vocabulary
                          else replace(inst, analysis=self.analysis, vocabulary=self.vocabulary)
                          for inst in self.instances]

    def __len__(self) -> int:
        return len(self.instances)

    def __iter__(self) -> Iterator[Instance]:
        return iter(self.instances)

    def __getitem__(self, i: int) -> Instance:
        return self.instances[i]

    @property
    def num_frames(self) -> int:
        return self.analysis.num_frames

    @property
    def frame_hw(self) -> tuple[int, int]:
        return self.analysis.meta.frame_hw

    def mask(self, i: int, t: int) -> np.ndarray:
        """(H, W) bool mask of instance i on frame t (empty where not present)."""
        return self.instances[i].mask(t)

    def frame_masks(self, t: int) -> np.ndarray:
        """(N, H, W) bool masks of all instances on frame t."""
        shown = [i for i, inst in enumerate(self.instances) if inst.present[t]]
        out = np.zeros((len(self.instances), *self.frame_hw), bool)
        if shown:
            out[shown] = self.analysis.query_masks(t, [self.instances[i].query for i in shown])
        return out

    def segmentations(self, progress=None) -> list[list]:
        """Per instance, per frame: compressed RLE, or None where it is absent or empty."""
        return self.analysis.query_segmentations([inst.query for inst in self.instances],
                                                 np.stack([inst.present for inst in self.instances])
                                                 if self.instances else np.zeros((0, self.num_frames), bool),
                                                 progress)

    def annotations(self, *, video_id: int = 1, keep_empty: bool = False, progress=None) -> list[Annotation]:
        """The instances as `clipvis.formats.Annotation`s (ids 1..N, best first).

        keep_empty=False leaves out instances whose mask is empty on every frame
        (they label nothing); the results form keeps them, as the official writer does.
        """
        out = []
        for inst, segs in zip(self.instances, self.segmentations(progress)):
            if keep_empty or any(s is not None for s in segs):
                out.append(Annotation(id=len(out) + 1, video_id=video_id, category_id=int(inst.category_id),
                                      segmentations=segs, score=float(inst.score)))
        return out

    def to_results(self, video_id: int = 1) -> list[dict]:
        """YTVIS results form, one entry per instance (all of them, as the
        official writer): per frame an RLE or null, and the boxes."""
        return results_to_json(self.annotations(video_id=video_id, keep_empty=True))

    def to_dataset(self, video=None, *, video_id: int = 1, categories: str = "all",
                   info: dict | None = None) -> YTVISDataset:
        """A one-video YTVIS dataset (`clipvis.formats.YTVISDataset`).

        video: the frames' names and size: what `open_video` returned for these
        frames, a `clipvis.formats.Video`, or None (names 00000.jpg, 00001.jpg, ...).
        categories: "all" the vocabulary's classes, or "used" only those of the
        instances written (ids kept, never renumbered).
        """
        if video is None:
            h, w = self.frame_hw
            video = Video(id=video_id, width=w, height=h, file_names=[f"{t:05d}.jpg" for t in range(self.num_frames)])
        elif not isinstance(video, Video):
            video = Video.from_source(video, id=video_id)
        if (video.height, video.width) != tuple(self.frame_hw) or video.length != self.num_frames:
            raise ValueError(f"the video argument describes {video.length} frames of {video.width}x{video.height}, "
                             f"but the result has {self.num_frames} of {self.frame_hw[1]}x{self.frame_hw[0]}")
        annotations = self.annotations(video_id=video.id)
        return YTVISDataset(videos=[video], categories=self.vocabulary.categories(used=_used(annotations, categories)),
                            annotations=annotations, info=dict(info or {}))

    def save(self, path, format: str = "dataset", *, video=None, video_id: int = 1, categories: str = "all"):
        """Write `path` atomically: format "dataset" (YTVIS dataset form),
        "results" (YTVIS results form) or "cocovid" (per-frame COCO with videos)."""
        if format == "results":
            return write_json(path, self.to_results(video_id))
        if format not in ("dataset", "cocovid"):
            raise ValueError(f"format must be 'dataset', 'results' or 'cocovid', got {format!r}")
        dataset = self.to_dataset(video, video_id=video_id, categories=categories)
        return write_dataset(path, dataset) if format == "dataset" else write_cocovid(path, dataset)


def _used(annotations, categories: str):
    if categories not in ("all", "used"):
        raise ValueError(f"categories must be 'all' or 'used', got {categories!r}")
    return None if categories == "all" else {a.category_id for a in annotations}
