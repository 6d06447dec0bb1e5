"""The YTVIS variant of COCO evaluation, on pycocotools' RLE primitives.

It reproduces the official `YTVOSeval` (youtubevos/cocoapi, as the CLIP-VIS
code ships it) and `LVVISeval` number for number; where they differ from
image COCOeval it is on purpose:
- a track is one object: its IoU with another is the sum over frames of the
  intersections divided by the sum of the unions (a frame where only one of
  them is present adds its area to the union);
- area ranges use the mean of a track's non-zero per-frame areas, for ground
  truth as its file's `areas` field says, for results as their masks give;
- the area ranges are 0-128², 128²-256², 256²-1e5² (YTVIS, not COCO's 32/96).
`Mode.lvvis` is LVVISeval: areas truncated to integers before averaging, and
the crowd flag not used by the area filter.

Layout of the arrays, as in COCOeval: precision [T, R, K, A, M], recall
[T, K, A, M]; -1 where a slice has no ground truth.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pycocotools import mask as mask_api

IOU_THRS = np.linspace(0.5, 0.95, 10)
REC_THRS = np.linspace(0.0, 1.0, 101)
MAX_DETS = (1, 10, 100)
AREA_RANGES = {"all": (0.0, 1e5 ** 2), "small": (0.0, 128.0 ** 2),
               "medium": (128.0 ** 2, 256.0 ** 2), "large": (256.0 ** 2, 1e5 ** 2)}


@dataclass
class Track:
    """One ground-truth or predicted track, ready for matching."""

    id: int
    segs: list  # per frame: RLE with bytes counts (what pycocotools takes) or None
    pixels: list  # per frame: mask area in pixels, or None
    avg_area: float
    score: float = 1.0
    crowd: int = 0


def mean_area(areas, *, truncate: bool) -> float:
    # Zero and missing areas do not count: a track's size is its size where seen.
    kept = [int(a) if truncate else a for a in areas if a]
    return float(np.array(kept).mean()) if kept else 0.0


def by_score(dts: list) -> list:
    # Stable sort, highest score first: ties keep file order, as in COCOeval.
    order = np.argsort([-d.score for d in dts], kind="mergesort")
    return [dts[i] for i in order]


def track_iou(d: Track, g: Track) -> float:
    inter = union = 0.0
    for sd, sg, ad, ag in zip(d.segs, g.segs, d.pixels, g.pixels):
        if sd is not None and sg is not None:
            both = float(mask_api.area(mask_api.merge([sd, sg], intersect=True)))
            inter += both
            union += ad + ag - both  # |d ∪ g| = |d| + |g| - |d ∩ g|, exact in integers
        elif sg is not None:
            union += ag
        elif sd is not None:
            union += ad
    return inter / union if union > 0 else 0.0


def iou_matrix(dts: list, gts: list) -> np.ndarray:
    return np.array([[track_iou(d, g) for g in gts] for d in dts]).reshape(len(dts), len(gts))


def match_video(dts: list, gts: list, ious: np.ndarray, area_rng, *, crowd_ignores: bool) -> dict:
    """Greedy matching of one (video, category) at every IoU threshold.

    dts: sorted by score and cut to the largest maxDets; ious: iou_matrix(dts,
    gts). Returns what accumulate needs, per detection in that order.
    """
    lo, hi = area_rng
    ignored = np.array([int((crowd_ignores and bool(g.crowd)) or g.avg_area < lo or g.avg_area > hi)
                        for g in gts], dtype=int)
    order = np.argsort(ignored, kind="mergesort")  # not-ignored ground truth first
    gts = [gts[i] for i in order]
    g_ig = ignored[order]
    ious = ious[:, order]
    T, D = len(IOU_THRS), len(dts)
    d_match = np.zeros((T, D))  # matched gt id (0 = none, as COCOeval stores it)
    d_ig = np.zeros((T, D), dtype=bool)
    g_taken = np.zeros((T, len(gts)), dtype=bool)
    for t, thr in enumerate(IOU_THRS):
        for di in range(D):
            best, m = min(thr, 1 - 1e-10), -1
            for gi, g in enumerate(gts):
                if g_taken[t, gi] and not g.crowd:
                    continue
                # Once matched to a regular gt, ignored ones (sorted last) cannot win.
                if m > -1 and g_ig[m] == 0 and g_ig[gi] == 1:
                    break
                if ious[di, gi] < best:
                    continue
                best, m = ious[di, gi], gi
            if m > -1:
                d_ig[t, di] = bool(g_ig[m])
                d_match[t, di] = gts[m].id
                g_taken[t, m] = True
    outside = np.array([d.avg_area < lo or d.avg_area > hi for d in dts], dtype=bool)
    # Unmatched detections of the wrong size neither help nor hurt.
    d_ig |= (d_match == 0) & outside[None, :]
    return {"scores": np.array([d.score for d in dts], dtype=float),
            "matched": d_match != 0, "d_ig": d_ig, "g_ig": g_ig}


def precision_recall(entries: list, max_det: int):
    """entries: per video (in video order) match_video outputs for one
    category and area range -> (precision [T, R], recall [T]) or None when
    there is no ground truth to find."""
    g_ig = np.concatenate([e["g_ig"] for e in entries])
    n_pos = int(np.count_nonzero(g_ig == 0))
    if n_pos == 0:
        return None
    scores = np.concatenate([e["scores"][:max_det] for e in entries])
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([e["matched"][:, :max_det] for e in entries], axis=1)[:, order]
    d_ig = np.concatenate([e["d_ig"][:, :max_det] for e in entries], axis=1)[:, order]
    tp = np.cumsum(matched & ~d_ig, axis=1).astype(float)
    fp = np.cumsum(~matched & ~d_ig, axis=1).astype(float)
    T, R = len(IOU_THRS), len(REC_THRS)
    precision, recall = np.zeros((T, R)), np.zeros(T)
    for t in range(T):
        n = tp.shape[1]
        if n == 0:
            continue
        rc = tp[t] / n_pos
        pr = tp[t] / (fp[t] + tp[t] + np.spacing(1))
        recall[t] = rc[-1]
        # Interpolate: precision at recall r is the best precision at any recall >= r.
        pr = np.maximum.accumulate(pr[::-1])[::-1]
        idx = np.searchsorted(rc, REC_THRS, side="left")
        ok = idx < n  # recall levels never reached keep precision 0
        precision[t, ok] = pr[idx[ok]]
    return precision, recall


def accumulate(per_pair: dict, vid_ids: list, cat_ids: list):
    """per_pair[(cat, area_name, vid)] -> match_video output (absent pairs are empty)."""
    T, R, K, A, M = len(IOU_THRS), len(REC_THRS), len(cat_ids), len(AREA_RANGES), len(MAX_DETS)
    precision = -np.ones((T, R, K, A, M))
    recall = -np.ones((T, K, A, M))
    for k, cat in enumerate(cat_ids):
        for a, area in enumerate(AREA_RANGES):
            entries = [per_pair[cat, area, v] for v in vid_ids if (cat, area, v) in per_pair]
            if not entries:
                continue
            for m, max_det in enumerate(MAX_DETS):
                pr = precision_recall(entries, max_det)
                if pr is not None:
                    precision[:, :, k, a, m], recall[:, k, a, m] = pr
    return precision, recall
