"""YouTube-VIS dataset form: `{info, licenses, videos, categories, annotations}`.

The in-memory model the UI and the batch labeller build on. Field names and
types follow the official YTVIS files exactly, so what `write_dataset` writes
loads unchanged in the official `YTVOS` API and in COCO-style video loaders.
Masks are held as compressed RLE with str counts (see `rle.py`), `None` on
frames where an instance is absent or its mask is empty; what this package
writes has `null` there in `segmentations`, `areas` and `bboxes` alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from clipvis.atomic import write_json
from clipvis.formats.rle import mask_to_rle, rle_area, rle_bbox, rle_to_mask
from clipvis.formats.validate import (
    YTVISError, Where, check_annotation, check_categories, check_videos, load_json,
)

_VIDEO_KEYS = ("id", "width", "height", "length", "file_names")


@dataclass
class Video:
    id: int
    width: int
    height: int
    file_names: list[str]
    extra: dict = field(default_factory=dict)  # other fields, kept verbatim (name, fps, ...)

    @property
    def length(self) -> int:
        return len(self.file_names)

    def to_json(self) -> dict:
        return {"id": self.id, "width": self.width, "height": self.height,
                "length": self.length, "file_names": list(self.file_names), **self.extra}

    @classmethod
    def from_source(cls, source, *, id: int, name: str | None = None) -> "Video":
        """The YTVIS entry of an opened video (clipvis.video.VideoSource): its
        selected frames' names and its size before any model resize, which is
        the size masks are written at."""
        extra = {"name": name} if name else {}
        return cls(id=id, width=source.info.width, height=source.info.height,
                   file_names=list(source.file_names), extra=extra)

    @classmethod
    def from_json(cls, obj: dict) -> "Video":
        return cls(id=int(obj["id"]), width=int(obj["width"]), height=int(obj["height"]),
                   file_names=list(obj["file_names"]),
                   extra={k: v for k, v in obj.items() if k not in _VIDEO_KEYS})


@dataclass
class Category:
    id: int
    name: str
    extra: dict = field(default_factory=dict)  # supercategory, partition, ...

    @property
    def partition(self):
        return self.extra.get("partition")

    def to_json(self) -> dict:
        return {"id": self.id, "name": self.name, **self.extra}

    @classmethod
    def from_json(cls, obj: dict) -> "Category":
        return cls(id=int(obj["id"]), name=str(obj["name"]),
                   extra={k: v for k, v in obj.items() if k not in ("id", "name")})


@dataclass
class Annotation:
    """One instance track: a mask (or None) per frame of its video."""

    id: int
    video_id: int
    category_id: int
    segmentations: list  # per frame: compressed RLE dict with str counts, or None
    score: float | None = None
    iscrowd: int = 0
    # As read from a file (the evaluation's area ranges use these), or None to
    # compute them from the masks when writing.
    areas: list | None = None
    bboxes: list | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_masks(cls, *, id: int, video_id: int, category_id: int, masks, score=None) -> "Annotation":
        """masks: per frame an (H, W) bool array, or None where absent. An empty
        mask is absent too: null segmentation, area and box, as everywhere."""
        segs = [None if m is None or not np.any(m) else mask_to_rle(m) for m in masks]
        return cls(id=id, video_id=video_id, category_id=category_id, segmentations=segs, score=score)

    def mask(self, frame: int) -> np.ndarray | None:
        seg = self.segmentations[frame]
        return None if seg is None else rle_to_mask(seg)

    def frames_present(self) -> list[int]:
        return [i for i, s in enumerate(self.segmentations) if s is not None]

    def computed_areas(self) -> list:
        return [None if s is None else rle_area(s) for s in self.segmentations]

    def computed_bboxes(self) -> list:
        return [None if s is None else rle_bbox(s) for s in self.segmentations]

    def to_json(self, video: Video) -> dict:
        out = {
            "id": self.id, "video_id": self.video_id, "category_id": self.category_id,
            "segmentations": list(self.segmentations),
            "areas": list(self.areas) if self.areas is not None else self.computed_areas(),
            "bboxes": list(self.bboxes) if self.bboxes is not None else self.computed_bboxes(),
            "iscrowd": int(self.iscrowd),
            "height": video.height, "width": video.width, "length": video.length,
        }
        if self.score is not None:
            out["score"] = float(self.score)
        out.update(self.extra)
        return out


@dataclass
class YTVISDataset:
    videos: list[Video]
    categories: list[Category]
    annotations: list[Annotation] = field(default_factory=list)
    info: dict = field(default_factory=dict)
    licenses: list = field(default_factory=list)

    def __post_init__(self):
        # Plain dicts as a file holds them are taken (checked as a reader checks them); anything
        # else fails here, not later when the dataset is written.
        self.videos = [Video.from_json(v) if isinstance(v, dict) else v for v in self.videos]
        self.categories = [Category.from_json(c) if isinstance(c, dict) else c for c in self.categories]
        for name, kind in (("videos", Video), ("categories", Category), ("annotations", Annotation)):
            bad = [x for x in getattr(self, name) if not isinstance(x, kind)]
            if bad:
                raise TypeError(f"YTVISDataset {name} must be {kind.__name__} objects (or their JSON dicts), "
                                f"got {type(bad[0]).__name__}")

    def video(self, video_id: int) -> Video:
        for v in self.videos:
            if v.id == video_id:
                return v
        raise KeyError(f"no video with id {video_id}")

    def annotations_of(self, video_id: int) -> list[Annotation]:
        return [a for a in self.annotations if a.video_id == video_id]

    def has_partitions(self) -> bool:
        return any(c.partition is not None for c in self.categories)

    def to_json(self) -> dict:
        videos = {v.id: v for v in self.videos}
        return {
            "info": dict(self.info), "licenses": list(self.licenses),
            "videos": [v.to_json() for v in self.videos],
            "categories": [c.to_json() for c in self.categories],
            "annotations": [a.to_json(videos[a.video_id]) for a in self.annotations],
        }

    @classmethod
    def from_json(cls, obj, *, source: str = "dataset") -> "YTVISDataset":
        """Validate and load; YTVISError names the video, annotation and field."""
        where = Where(source)
        if not isinstance(obj, dict):
            raise YTVISError(f"{source}: the dataset form is a JSON object with 'videos', "
                             f"'categories' and 'annotations', got a {type(obj).__name__}")
        for key in ("videos", "categories"):
            if key not in obj:
                raise YTVISError(f"{source}: field '{key}' is missing")
        videos = check_videos(obj["videos"], where)
        categories = check_categories(obj["categories"], where)
        anns, seen = [], set()
        raw_anns = obj.get("annotations", [])
        if not isinstance(raw_anns, list):
            raise YTVISError(f"{source}: field 'annotations' must be a list")
        for i, raw in enumerate(raw_anns):
            fields = check_annotation(raw, i, videos, categories, where, seen)
            anns.append(Annotation(**fields))
        return cls(
            videos=[Video.from_json(v) for v in videos.values()],
            categories=[Category.from_json(c) for c in categories.values()],
            annotations=anns, info=obj.get("info") or {}, licenses=obj.get("licenses") or [],
        )


def write_dataset(path, dataset: YTVISDataset) -> Path:
    # Validate what we write with the same reader users rely on: a file this
    # writes must never be one `read_dataset` rejects.
    obj = dataset.to_json()
    YTVISDataset.from_json(obj, source=str(path))
    return write_json(path, obj)


def read_dataset(path) -> YTVISDataset:
    return YTVISDataset.from_json(load_json(path), source=str(path))


def merge_datasets(datasets) -> YTVISDataset:
    """Merge per-video datasets into one.

    Videos and annotations are renumbered 1..N in input order (dataset by
    dataset, then as listed), so the same inputs always give the same file.
    Category ids are kept: they are the vocabulary's; the same id must carry
    the same name everywhere.
    """
    datasets = list(datasets)
    if not datasets:
        raise YTVISError("merge_datasets: give at least one dataset")
    categories: dict[int, Category] = {}
    videos, anns = [], []
    for n, ds in enumerate(datasets):
        for c in ds.categories:
            known = categories.setdefault(c.id, c)
            if known.name != c.name:
                raise YTVISError(f"merge_datasets: category {c.id} is {known.name!r} in one dataset "
                                 f"and {c.name!r} in dataset #{n}")
        new_ids = {}
        for v in ds.videos:
            new_ids[v.id] = len(videos) + 1
            videos.append(Video(id=new_ids[v.id], width=v.width, height=v.height,
                                file_names=list(v.file_names), extra=dict(v.extra)))
        for a in ds.annotations:
            anns.append(Annotation(
                id=len(anns) + 1, video_id=new_ids[a.video_id], category_id=a.category_id,
                segmentations=list(a.segmentations), score=a.score, iscrowd=a.iscrowd,
                areas=a.areas, bboxes=a.bboxes, extra=dict(a.extra)))
    return YTVISDataset(videos=videos, categories=sorted(categories.values(), key=lambda c: c.id),
                        annotations=anns, info=dict(datasets[0].info), licenses=list(datasets[0].licenses))
