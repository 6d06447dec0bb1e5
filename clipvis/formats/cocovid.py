"""Per-frame COCO with videos ("CocoVID", as mmtracking and SAM 3's converters
write it): what image trainers and pycocotools' `COCO` read.

    {"info", "licenses", "categories",
     "videos":      [{id, name, width, height, length}],
     "images":      [{id, video_id, frame_id, file_name, width, height}],       one per frame
     "annotations": [{id, image_id, video_id, instance_id, category_id,
                      segmentation, area, bbox, iscrowd[, score]}]}               one per instance and frame

Made from a YTVIS dataset: images are numbered 1..N over the videos' frames in
order; `frame_id` is the frame's position in its video (0-based); an
annotation exists only on frames where the track has a mask (a null frame of
the YTVIS form has none here); `instance_id` is the YTVIS annotation id, the
same on every frame of one track; `segmentation` is the same compressed RLE.
"""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from clipvis.atomic import write_json
from clipvis.formats.rle import rle_area, rle_bbox
from clipvis.formats.ytvis import YTVISDataset


def dataset_to_cocovid(dataset: YTVISDataset) -> dict:
    videos, images, annotations = [], [], []
    image_ids = {}  # (video id, frame) -> image id
    for v in dataset.videos:
        name = v.extra.get("name") or str(PurePosixPath(v.file_names[0]).parent)
        videos.append({"id": v.id, "name": name, "width": v.width, "height": v.height, "length": v.length})
        for t, file_name in enumerate(v.file_names):
            image_ids[v.id, t] = len(images) + 1
            images.append({"id": len(images) + 1, "video_id": v.id, "frame_id": t, "file_name": file_name,
                           "width": v.width, "height": v.height})
    for a in dataset.annotations:
        areas = a.areas if a.areas is not None else [None] * len(a.segmentations)
        bboxes = a.bboxes if a.bboxes is not None else [None] * len(a.segmentations)
        for t, seg in enumerate(a.segmentations):
            if seg is None:
                continue
            item = {"id": len(annotations) + 1, "image_id": image_ids[a.video_id, t], "video_id": a.video_id,
                    "instance_id": a.id, "category_id": a.category_id, "segmentation": seg,
                    "area": areas[t] if areas[t] is not None else rle_area(seg),
                    "bbox": bboxes[t] if bboxes[t] is not None else rle_bbox(seg), "iscrowd": a.iscrowd}
            if a.score is not None:
                item["score"] = float(a.score)
            annotations.append(item)
    return {"info": dict(dataset.info), "licenses": list(dataset.licenses),
            "categories": [c.to_json() for c in dataset.categories],
            "videos": videos, "images": images, "annotations": annotations}


def write_cocovid(path, dataset: YTVISDataset) -> Path:
    """Write a dataset in the per-frame form, atomically."""
    return write_json(path, dataset_to_cocovid(dataset))
