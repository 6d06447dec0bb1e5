"""YTVIS / LV-VIS evaluation: ground-truth dataset + results -> the 12 COCO stats.

`run(gt, results)` works on the in-memory model of `clipvis.formats`;
`clipvis.evaluate` is the file-level entry point and the command line.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pycocotools import mask as mask_api

from clipvis.evaluation.core import (
    AREA_RANGES, IOU_THRS, MAX_DETS, Track, accumulate, by_score, iou_matrix, match_video, mean_area,
)

STAT_NAMES = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
# name -> (precision?, IoU threshold or None for all, area range, maxDets)
_STATS = {
    "AP": (True, None, "all", 100), "AP50": (True, 0.5, "all", 100), "AP75": (True, 0.75, "all", 100),
    "APs": (True, None, "small", 100), "APm": (True, None, "medium", 100), "APl": (True, None, "large", 100),
    "AR1": (False, None, "all", 1), "AR10": (False, None, "all", 10), "AR100": (False, None, "all", 100),
    "ARs": (False, None, "small", 100), "ARm": (False, None, "medium", 100), "ARl": (False, None, "large", 100),
}
BASE_PARTITIONS, NOVEL_PARTITIONS = (0, 1), (2, 3)


@dataclass
class EvalResult:
    stats: dict  # the 12 stats; plus <name>b / <name>n with a base/novel split
    precision: np.ndarray  # [T, R, K, A, M]
    recall: np.ndarray  # [T, K, A, M]
    cat_ids: list
    mode: str
    dropped_results: int = 0  # results whose category the ground truth does not have
    lines: list = field(default_factory=list)  # the summary as the official code prints it


def _track(ann, *, file_areas, truncate: bool, score=1.0) -> Track:
    segs = [None if s is None else {"size": s["size"], "counts": s["counts"].encode("ascii")}
            for s in ann.segmentations]
    present = [s for s in segs if s is not None]
    px = iter(mask_api.area(present).tolist() if present else [])
    pixels = [None if s is None else next(px) for s in segs]
    areas = file_areas if file_areas is not None else pixels
    return Track(id=ann.id, segs=segs, pixels=pixels, avg_area=mean_area(areas, truncate=truncate),
                 score=score, crowd=ann.iscrowd)


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(np.mean(valid)) if valid.size else -1.0


def _stat(precision, recall, name, k_index=None) -> float:
    is_ap, iou, area, max_det = _STATS[name]
    a, m = list(AREA_RANGES).index(area), MAX_DETS.index(max_det)
    s = precision[..., a, m] if is_ap else recall[..., a, m]  # [T, R, K] or [T, K]
    if iou is not None:
        s = s[np.where(IOU_THRS == iou)[0]]
    if k_index is not None:
        s = s[..., k_index]
    return _mean_valid(s)


def summary_line(name: str, value: float, suffix: str = "") -> str:
    is_ap, iou, area, max_det = _STATS[name]
    title = "Average Precision" if is_ap else "Average Recall"
    kind = ("(AP" if is_ap else "(AR") + suffix + ")"
    ious = f"{IOU_THRS[0]:0.2f}:{IOU_THRS[-1]:0.2f}" if iou is None else f"{iou:0.2f}"
    return f" {title:<18} {kind} @[ IoU={ious:<9} | area={area:>6s} | maxDets={max_det:>3d} ] = {value:0.3f}"


def run(gt, results, *, mode: str = "auto") -> EvalResult:
    """gt: YTVISDataset; results: list of Annotation with scores (ids as the
    official loadRes gives them: 1..N in file order). mode: 'ytvis' (YTVOSeval),
    'lvvis' (LVVISeval) or 'auto' (lvvis when categories carry `partition`)."""
    if mode == "auto":
        mode = "lvvis" if gt.has_partitions() else "ytvis"
    if mode not in ("ytvis", "lvvis"):
        raise ValueError(f"unknown evaluation mode {mode!r}: use 'auto', 'ytvis' or 'lvvis'")
    lv = mode == "lvvis"
    vid_ids = sorted({v.id for v in gt.videos})
    cat_ids = sorted({c.id for c in gt.categories})
    known = set(cat_ids)
    gts, dts = {}, {}
    for ann in gt.annotations:
        gts.setdefault((ann.video_id, ann.category_id), []).append(
            _track(ann, file_areas=ann.areas, truncate=lv))
    dropped = 0
    for ann in results:
        if ann.category_id not in known:
            dropped += 1
            continue
        dts.setdefault((ann.video_id, ann.category_id), []).append(
            _track(ann, file_areas=None, truncate=lv, score=ann.score))
    per_pair = {}
    for key in set(gts) | set(dts):
        g = gts.get(key, [])
        d = by_score(dts.get(key, []))[: MAX_DETS[-1]]
        ious = iou_matrix(d, g)
        for area, rng in AREA_RANGES.items():
            per_pair[key[1], area, key[0]] = match_video(d, g, ious, rng, crowd_ignores=not lv)
    precision, recall = accumulate(per_pair, vid_ids, cat_ids)
    res = EvalResult(stats={}, precision=precision, recall=recall, cat_ids=cat_ids, mode=mode,
                     dropped_results=dropped)
    splits = {}
    if lv:
        part = {c.id: c.partition for c in gt.categories}
        # LVVISeval slices with category_id - 1; by position in the sorted ids
        # is the same when ids run 1..K and still right when they do not.
        splits = {"b": [i for i, c in enumerate(cat_ids) if part[c] in BASE_PARTITIONS],
                  "n": [i for i, c in enumerate(cat_ids) if part[c] in NOVEL_PARTITIONS]}
    for name in STAT_NAMES:
        res.stats[name] = _stat(precision, recall, name)
        res.lines.append(summary_line(name, res.stats[name]))
        for suffix, idx in splits.items():
            value = _stat(precision, recall, name, idx) if idx else -1.0
            res.stats[name + suffix] = value
            res.lines.append(summary_line(name, value, suffix))
    return res
