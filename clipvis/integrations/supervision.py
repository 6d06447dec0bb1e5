"""`supervision.Detections`, the result type many CV pipelines pass around.

    import supervision as sv
    from clipvis.integrations.supervision import to_detections, from_detections

    detections = to_detections(result, frame=10)       # what is on frame 10
    frame = sv.MaskAnnotator().annotate(frame, detections)
    tracks = from_detections([to_detections(result, t) for t in range(result.num_frames)])

Boxes are corners `[x1, y1, x2, y2]` with x2 = x + w (a COCO box `[x, y, w, h]`
turned into corners, as supervision's COCO loader does). `tracker_id` is the
instance's `track_id`; `class_id` its category id; `data["class_name"]` the
class names. Requires supervision (`pip install supervision`, or the
`clipvis[supervision]` extra); the rest of clipvis never imports it.
"""
from __future__ import annotations

import numpy as np

from clipvis.formats.rle import mask_to_rle
from clipvis.formats.ytvis import Annotation

try:
    import supervision as sv
except ImportError as e:  # pragma: no cover - the message is the point
    raise ImportError("clipvis.integrations.supervision needs the supervision package: "
                      "pip install supervision (or pip install clipvis[supervision])") from e


def to_detections(result, frame: int) -> "sv.Detections":
    """The instances of a VideoResult shown on `frame` with a non-empty mask, best first."""
    if not 0 <= frame < result.num_frames:
        raise IndexError(f"frame must be in 0..{result.num_frames - 1}, got {frame}")
    shown = [inst for inst in result.instances if inst.present[frame]]
    masks = result.analysis.query_masks(frame, [inst.query for inst in shown]) if shown else \
        np.zeros((0, *result.frame_hw), bool)
    keep = [k for k in range(len(shown)) if masks[k].any()]
    shown, masks = [shown[k] for k in keep], masks[keep]
    boxes = [inst.bbox(frame) for inst in shown]
    xyxy = np.array([[x, y, x + w, y + h] for x, y, w, h in boxes], np.float32).reshape(-1, 4)
    return sv.Detections(xyxy=xyxy, mask=masks.astype(bool),
                         confidence=np.array([inst.score for inst in shown], np.float32),
                         class_id=np.array([inst.category_id for inst in shown], int),
                         tracker_id=np.array([inst.track_id for inst in shown], int),
                         data={"class_name": np.array([inst.name for inst in shown], dtype=object)})


def from_detections(frames, *, video_id: int = 1) -> list[Annotation]:
    """Per-frame Detections (one per frame of a video, with masks, class_id
    and tracker_id) -> YTVIS tracks: one Annotation per (tracker_id, class_id),
    in order of first appearance, null on the frames it is missing from; its
    score is the mean confidence over its frames (absent confidence: no score)."""
    frames = list(frames)
    tracks: dict[tuple[int, int], dict] = {}
    for t, det in enumerate(frames):
        if len(det) and (det.mask is None or det.class_id is None or det.tracker_id is None):
            raise ValueError(f"frame {t}: detections need mask, class_id and tracker_id to become tracks")
        for k in range(len(det)):
            key = (int(det.tracker_id[k]), int(det.class_id[k]))
            track = tracks.setdefault(key, {"segs": [None] * len(frames), "scores": []})
            track["segs"][t] = mask_to_rle(np.asarray(det.mask[k], bool)) if np.any(det.mask[k]) else None
            if det.confidence is not None:
                track["scores"].append(float(det.confidence[k]))
    return [Annotation(id=n, video_id=video_id, category_id=class_id, segmentations=track["segs"],
                       score=float(np.mean(track["scores"])) if track["scores"] else None)
            for n, ((_, class_id), track) in enumerate(tracks.items(), start=1)]
