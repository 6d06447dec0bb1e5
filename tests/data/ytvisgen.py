"""Hand-built YTVIS datasets for the format and evaluation tests."""
from __future__ import annotations

import numpy as np

from clipvis.formats import Annotation, Category, Video, YTVISDataset


def box(h, w, y0, x0, y1, x1) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return m


def dataset(videos, tracks, categories=None) -> YTVISDataset:
    """videos: [(h, w, length)], ids 1..; tracks: [(video_id, category_id, masks[, score])]."""
    vids = [Video(id=i + 1, width=w, height=h, file_names=[f"v{i + 1}/{f:05d}.jpg" for f in range(n)])
            for i, (h, w, n) in enumerate(videos)]
    ncat = max([t[1] for t in tracks] + [1])
    cats = categories or [Category(id=c, name=f"class_{c}") for c in range(1, ncat + 1)]
    anns = [Annotation.from_masks(id=k + 1, video_id=t[0], category_id=t[1], masks=t[2],
                                  score=t[3] if len(t) > 3 else None)
            for k, t in enumerate(tracks)]
    return YTVISDataset(videos=vids, categories=cats, annotations=anns)
