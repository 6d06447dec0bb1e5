"""A clip with annotations, made without a model: what the viewer benchmark
and the browser tests load into the studio (upload the video, import the JSON).

`make_clip` writes an mp4 of moving textured shapes and a YTVIS dataset JSON
with one track per shape: noisy-edged masks (many RLE runs, the costly case),
tracks that start and end at different frames, and overlapping instances.
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from clipvis.formats.overlay import write_overlay_video
from clipvis.formats.rle import mask_to_rle


def _masks(t: int, k: int, w: int, h: int, rng_seed: int) -> np.ndarray:
    """Track k's mask on frame t: an ellipse moving on its own path, with a ragged edge."""
    rng = np.random.default_rng(rng_seed * 1000 + k)
    cx0, cy0 = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    vx, vy = rng.uniform(-1.5, 1.5), rng.uniform(-1.0, 1.0)
    ax, ay = int(rng.uniform(0.04, 0.14) * w), int(rng.uniform(0.05, 0.16) * h)
    cx = int((cx0 + vx * t) % w)
    cy = int((cy0 + vy * t) % h)
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (cx, cy), (ax, ay), (t * 2 + k * 17) % 180, 0, 360, 1, -1)
    noise = np.random.default_rng(t * 7919 + k).random((h, w)) < 0.12
    edge = cv2.morphologyEx(m, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)).astype(bool)
    return (m.astype(bool) & ~(edge & noise))


def make_clip(folder, *, frames: int = 90, width: int = 640, height: int = 480, tracks: int = 20, fps: float = 30,
              seed: int = 0, name: str = "viewer bench", class_names=None) -> tuple[Path, Path]:
    """(video.mp4, annotations.json) in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    classes = list(class_names or ["person", "car", "bicycle", "dog", "skateboard"])
    spans = []
    for k in range(tracks):  # most tracks cover most of the clip; some come and go
        a = int(rng.integers(0, max(frames // 4, 1))) if k % 3 else 0
        b = frames - 1 - (int(rng.integers(0, max(frames // 4, 1))) if k % 4 else 0)
        spans.append((a, max(a, b)))
    base = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 4)
    segs = [[None] * frames for _ in range(tracks)]

    def video():
        for t in range(frames):
            img = np.roll(base, t * 2, axis=1).copy()
            for k in range(tracks):
                a, b = spans[k]
                if a <= t <= b:
                    m = _masks(t, k, width, height, seed)
                    img[m] = (np.array(((k * 53) % 255, (k * 97) % 255, (k * 151) % 255)) * 0.6 + img[m] * 0.4)
                    segs[k][t] = mask_to_rle(m)
            yield img

    video_path = write_overlay_video(folder / f"{name}.mp4", video(), fps=fps)
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(classes)]
    annotations = []
    for k in range(tracks):
        seg = segs[k]
        cid, score = 1 + k % len(classes), round(0.95 - 0.03 * k, 3)
        # The studio's own fields: the model's top classes, which the 1-5 keys relabel to.
        top = [[cid, score]] + [[1 + (k + j) % len(classes), round(score / (j + 2), 3)] for j in range(1, 4)]
        annotations.append({"id": k + 1, "video_id": 1, "category_id": cid, "score": score, "segmentations": seg,
                            "areas": [None if s is None else int(_area(s)) for s in seg],
                            "bboxes": [None] * frames, "iscrowd": 0, "length": frames,
                            "studio": {"id": k + 1, "category_id": cid, "score": score, "origin": "model",
                                       "top_classes": top[:min(4, len(classes))]}})
    dataset = {"info": {"description": "synthetic clip"}, "licenses": [], "categories": categories,
               "videos": [{"id": 1, "width": width, "height": height, "length": frames,
                           "file_names": [f"{name}/{t:05d}.jpg" for t in range(frames)]}],
               "annotations": annotations}
    json_path = folder / f"{name}.json"
    json_path.write_text(json.dumps(dataset))
    return video_path, json_path


def _area(rle) -> int:
    from clipvis.formats.rle import rle_area
    return rle_area(rle)
