"""Training data sources: COCO / LVIS instance JSON (images) and YTVIS
dataset-form JSON (videos, the studio's exports included), read into records
that load one training image each. Categories are ignored: every instance is
an object. Crowd regions are left out, as the official training does.

Records hold masks in their file form (polygons or RLE) and decode them only
when drawn, and the whole list is packed into one byte buffer of JSON, so a
COCO-sized set costs little memory in each DataLoader worker.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps
from pycocotools import mask as mask_api

from clipvis.formats.rle import rle_to_mask
from clipvis.formats.validate import YTVISError
from clipvis.formats.ytvis import YTVISDataset


class DataError(ValueError):
    """Training data that cannot be used as it is; the message says what and where."""


def read_image(path: str, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB, EXIF orientation applied (as detectron2 reads images)."""
    try:
        with Image.open(path) as im:
            image = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    except OSError as e:
        raise DataError(f"cannot read image {path}: {e}") from None
    if image.shape[:2] != (height, width):
        raise DataError(f"{path} is {image.shape[1]}x{image.shape[0]}, its annotation file says {width}x{height}")
    return image


def coco_segmentation_to_mask(seg, height: int, width: int) -> np.ndarray:
    """A COCO `segmentation` (polygons, uncompressed or compressed RLE) -> (H, W) bool."""
    if isinstance(seg, list):
        rle = mask_api.merge(mask_api.frPyObjects(seg, height, width))
    elif isinstance(seg.get("counts"), list):
        rle = mask_api.frPyObjects(seg, height, width)
    else:
        counts = seg["counts"]
        rle = {"size": list(seg["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    return np.ascontiguousarray(mask_api.decode(rle), dtype=bool)


def _usable_segmentation(seg):
    """The segmentation without degenerate polygons, or None when nothing is left."""
    if isinstance(seg, list):
        polys = [p for p in seg if isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0]
        return polys or None
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        return seg
    return None


@dataclass
class ImageRecord:
    path: str
    height: int
    width: int
    segmentations: list  # COCO form, crowd regions left out

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(image (H, W, 3) uint8, masks (N, H, W) bool)."""
        image = read_image(self.path, self.height, self.width)
        masks = [coco_segmentation_to_mask(s, self.height, self.width) for s in self.segmentations]
        return image, _stack(masks, self.height, self.width)


@dataclass
class VideoRecord:
    frame_paths: list[str]
    height: int
    width: int
    tracks: list[list]  # per instance: per frame a compressed RLE or None

    def load(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One frame drawn uniformly (official SAMPLING_FRAME_NUM 1) with the
        instances present in it."""
        t = int(rng.integers(len(self.frame_paths)))
        image = read_image(self.frame_paths[t], self.height, self.width)
        masks = [rle_to_mask(track[t]) for track in self.tracks if track[t] is not None]
        return image, _stack(masks, self.height, self.width)


def _stack(masks, height, width) -> np.ndarray:
    return np.stack(masks) if masks else np.zeros((0, height, width), dtype=bool)


class PackedList:
    """A read-only list of records stored as JSON in one byte buffer: forked
    DataLoader workers would otherwise copy every Python object as refcounts
    change. JSON, not pickle: the buffer holds only what the records are made
    of (paths, sizes, polygons, RLE strings)."""

    RECORD_TYPES = {cls.__name__: cls for cls in (ImageRecord, VideoRecord)}

    def __init__(self, items):
        blobs = [json.dumps([type(x).__name__, asdict(x)], separators=(",", ":")).encode() for x in items]
        self._ends = np.cumsum([len(b) for b in blobs], dtype=np.int64)
        self._data = np.frombuffer(b"".join(blobs), dtype=np.uint8)

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, i: int):
        start = int(self._ends[i - 1]) if i > 0 else 0
        kind, fields = json.loads(self._data[start:int(self._ends[i])].tobytes())
        return self.RECORD_TYPES[kind](**fields)


def _find(root: Path, candidates: list[str]) -> str | None:
    for c in candidates:
        p = root / c
        if p.is_file():
            return str(p)
    return None


def _missing_error(source: str, root: Path, missing: list[str], total: int) -> DataError:
    shown = ", ".join(missing[:5]) + (" …" if len(missing) > 5 else "")
    return DataError(f"{source}: {len(missing)} of {total} images are not under {root} ({shown}); "
                     "give their folder with --image-root")


def load_coco(obj: dict, src: Path, image_root: str | None = None) -> tuple[list[ImageRecord], str]:
    """Parsed COCO / LVIS instance JSON -> records of images with at least one
    usable instance, and a one-line summary."""
    if not isinstance(obj.get("images"), list) or not isinstance(obj.get("annotations"), list):
        raise DataError(f"{src}: a COCO/LVIS instance file needs 'images' and 'annotations' lists")
    root = Path(image_root) if image_root else src.parent
    segs: dict[int, list] = {}
    skipped = crowd = 0
    for i, ann in enumerate(obj["annotations"]):
        if not isinstance(ann, dict) or "image_id" not in ann:
            raise DataError(f"{src}: annotation #{i} has no image_id")
        if ann.get("iscrowd", 0):
            crowd += 1
            continue
        seg = _usable_segmentation(ann.get("segmentation"))
        if seg is None:
            skipped += 1
            continue
        segs.setdefault(ann["image_id"], []).append(seg)
    records, missing = [], []
    for i, im in enumerate(obj["images"]):
        try:
            image_id, h, w = im["id"], int(im["height"]), int(im["width"])
        except (KeyError, TypeError, ValueError):
            raise DataError(f"{src}: image #{i} needs id, height and width") from None
        if image_id not in segs:
            continue
        if "file_name" in im:
            candidates = [im["file_name"]]
        elif "coco_url" in im:  # LVIS: http://images.cocodataset.org/train2017/000000391895.jpg
            split, name = im["coco_url"].split("/")[-2:]
            candidates = [f"{split}/{name}", name]
        else:
            raise DataError(f"{src}: image #{i} has neither file_name nor coco_url")
        found = _find(root, candidates)
        if found is None:
            missing.append(candidates[0])
            continue
        records.append(ImageRecord(path=found, height=h, width=w, segmentations=segs[image_id]))
    if missing:
        raise _missing_error(str(src), root, missing, len(records) + len(missing))
    n_inst = sum(len(r.segmentations) for r in records)
    summary = (f"{src.name}: {len(records)} images with {n_inst} instances "
               f"({len(obj['images']) - len(records)} images without instances left out"
               + (f", {crowd} crowd regions" if crowd else "")
               + (f", {skipped} annotations without a usable mask" if skipped else "") + ")")
    return records, summary


def load_ytvis(obj: dict, src: Path, image_root: str | None = None) -> tuple[list[VideoRecord], str]:
    """Parsed YTVIS dataset-form JSON -> one record per video (all its frames
    kept: frames without instances teach "no object")."""
    try:
        ds = YTVISDataset.from_json(obj, source=str(src))
    except YTVISError as e:
        raise DataError(str(e)) from None
    root = Path(image_root) if image_root else src.parent
    tracks: dict[int, list] = {}
    for ann in ds.annotations:
        if not ann.iscrowd:
            tracks.setdefault(ann.video_id, []).append(list(ann.segmentations))
    records, missing, total = [], [], 0
    for v in ds.videos:
        paths = []
        for name in v.file_names:
            total += 1
            found = _find(root, [name, f"JPEGImages/{name}"])
            if found is None:
                missing.append(name)
            paths.append(found)
        records.append(VideoRecord(frame_paths=paths, height=v.height, width=v.width, tracks=tracks.get(v.id, [])))
    if missing:
        raise _missing_error(str(src), root, missing, total)
    n_masks = sum(s is not None for r in records for t in r.tracks for s in t)
    summary = (f"{src.name}: {len(records)} videos, {total} frames, "
               f"{sum(len(r.tracks) for r in records)} instance tracks with {n_masks} masks")
    return records, summary


def load_sources(paths, image_roots=()) -> tuple[PackedList, list[str]]:
    """Every --data file (COCO/LVIS or YTVIS, told apart by 'images' / 'videos')
    -> one packed list of records and a summary line per file."""
    paths = list(paths)
    roots = list(image_roots) or [None]
    if len(roots) == 1:
        roots = roots * len(paths)
    records, summaries = [], []
    for path, root in zip(paths, roots):
        src = Path(path)
        try:
            obj = json.loads(src.read_bytes())
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read {src}: {e}") from None
        if isinstance(obj, dict) and "videos" in obj:
            recs, summary = load_ytvis(obj, src, root)
        elif isinstance(obj, dict) and "images" in obj:
            recs, summary = load_coco(obj, src, root)
        else:
            raise DataError(f"{src}: neither COCO/LVIS instance JSON (an 'images' list) nor a YTVIS "
                            "dataset (a 'videos' list); results files (a list) carry no frames to train on")
        records += recs
        summaries.append(summary)
    if not records:
        raise DataError("the training data holds no images with instances")
    return PackedList(records), summaries
