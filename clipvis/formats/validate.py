"""Checks for YTVIS files: every error names the file, video, annotation and field.

A file is checked as a whole before anything is built from it, so a caller
either gets a consistent model or a YTVISError that says what to fix.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from clipvis.formats.rle import RLEError, check_rle

_ANN_FIELDS = ("id", "video_id", "category_id", "segmentations", "areas", "bboxes",
               "iscrowd", "height", "width", "length", "score")


class YTVISError(ValueError):
    """A YTVIS file (dataset or results form) that cannot be used as is."""


class Where:
    """Builds the 'file: video 3, annotation 7, field 'x'[f]' prefix of messages."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, problem: str, *, video=None, item=None, field=None, frame=None):
        parts = []
        if video is not None:
            parts.append(f"video {video}")
        if item is not None:
            parts.append(item)
        if field is not None:
            parts.append(f"field '{field}'" + (f"[{frame}]" if frame is not None else ""))
        raise YTVISError(f"{self.source}: {', '.join(parts)}: {problem}" if parts else f"{self.source}: {problem}")


def load_json(path):
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise YTVISError(f"{path}: no such file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise YTVISError(f"{path}: not valid JSON ({e})") from None


def is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _require(obj, keys, where: Where, **at):
    if not isinstance(obj, dict):
        where.fail(f"must be an object, got {type(obj).__name__}", **at)
    for k in keys:
        if k not in obj:
            where.fail("is missing", field=k, **at)


def check_videos(videos, where: Where) -> dict:
    if not isinstance(videos, list):
        where.fail("must be a list", field="videos")
    out = {}
    for i, v in enumerate(videos):
        _require(v, ("id", "width", "height", "file_names"), where, item=f"videos[{i}]")
        vid = v["id"]
        if not is_int(vid) or vid in out:
            where.fail(f"must be a unique integer, got {vid!r}", item=f"videos[{i}]", field="id")
        for k in ("width", "height"):
            if not is_int(v[k]) or v[k] < 1:
                where.fail(f"must be a positive integer, got {v[k]!r}", video=vid, field=k)
        names = v["file_names"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            where.fail("must be a list of strings", video=vid, field="file_names")
        if not names:
            where.fail("the video has no frames", video=vid, field="file_names")
        if "length" in v and v["length"] != len(names):
            where.fail(f"is {v['length']!r} but 'file_names' lists {len(names)} frames", video=vid, field="length")
        out[vid] = v
    return out


def check_categories(categories, where: Where) -> dict:
    if not isinstance(categories, list):
        where.fail("must be a list", field="categories")
    out = {}
    for i, c in enumerate(categories):
        _require(c, ("id", "name"), where, item=f"categories[{i}]")
        if not is_int(c["id"]) or c["id"] in out:
            where.fail(f"must be a unique integer, got {c['id']!r}", item=f"categories[{i}]", field="id")
        if not isinstance(c["name"], str):
            where.fail("must be a string", item=f"category {c['id']}", field="name")
        out[c["id"]] = c
    return out


def check_segmentations(segs, video: dict, where: Where, at: dict) -> list:
    """Per-frame RLEs (or None) of one track -> compressed RLEs."""
    n = len(video["file_names"])
    if not isinstance(segs, list):
        where.fail("must be a list with one RLE or null per frame", field="segmentations", **at)
    if len(segs) != n:
        where.fail(f"has {len(segs)} frames but the video has {n}", field="segmentations", **at)
    out = []
    for f, seg in enumerate(segs):
        if seg is None:
            out.append(None)
            continue
        try:
            out.append(check_rle(seg, video["height"], video["width"]))
        except RLEError as e:
            where.fail(f"malformed RLE: {e}", field="segmentations", frame=f, **at)
    return out


def _check_per_frame(values, n, ok, what, where, field, at):
    if not isinstance(values, list) or len(values) != n:
        where.fail(f"must be a list of {n} values, one per frame", field=field, **at)
    for f, x in enumerate(values):
        if x is not None and not ok(x):
            where.fail(f"must be {what} or null, got {x!r}", field=field, frame=f, **at)


def _check_bboxes(raw, n, where, at):
    if "bboxes" in raw:
        _check_per_frame(raw["bboxes"], n, lambda b: isinstance(b, list) and len(b) == 4
                         and all(is_number(x) for x in b), "[x, y, w, h]", where, "bboxes", at)


def _check_ids(raw, videos, categories, where, at):
    for k in ("video_id", "category_id"):
        if not is_int(raw[k]):
            where.fail(f"must be an integer, got {raw[k]!r}", field=k, **at)
    if raw["video_id"] not in videos:
        where.fail(f"no video with id {raw['video_id']!r}", field="video_id", **at)
    if categories is not None and raw["category_id"] not in categories:
        where.fail(f"category {raw['category_id']!r} is not in 'categories'", field="category_id", **at)
    if "score" in raw and not is_number(raw["score"]):
        where.fail(f"must be a finite number, got {raw['score']!r}", field="score", **at)


def check_annotation(raw, index: int, videos: dict, categories: dict, where: Where, seen: set) -> dict:
    """One dataset-form annotation -> keyword arguments for `Annotation`."""
    at = {"item": f"annotations[{index}]"}
    _require(raw, ("id", "video_id", "category_id", "segmentations"), where, **at)
    aid = raw["id"]
    if not is_int(aid) or aid in seen:
        where.fail(f"must be a unique integer, got {aid!r}", field="id", **at)
    seen.add(aid)
    at = {"video": raw["video_id"], "item": f"annotation {aid}"}
    _check_ids(raw, videos, categories, where, at)
    video = videos[raw["video_id"]]
    n = len(video["file_names"])
    segs = check_segmentations(raw["segmentations"], video, where, at)
    for k, want in (("height", video["height"]), ("width", video["width"]), ("length", n)):
        if k in raw and raw[k] != want:
            where.fail(f"is {raw[k]!r} but the video's is {want}", field=k, **at)
    if "areas" in raw:
        _check_per_frame(raw["areas"], n, lambda x: is_number(x) and x >= 0, "a non-negative number",
                         where, "areas", at)
    _check_bboxes(raw, n, where, at)
    crowd = raw.get("iscrowd", 0)
    if crowd not in (0, 1):
        where.fail(f"must be 0 or 1, got {crowd!r}", field="iscrowd", **at)
    return {
        "id": aid, "video_id": raw["video_id"], "category_id": raw["category_id"],
        "segmentations": segs, "score": raw.get("score"), "iscrowd": int(crowd),
        "areas": raw.get("areas"), "bboxes": raw.get("bboxes"),
        "extra": {k: v for k, v in raw.items() if k not in _ANN_FIELDS},
    }


def check_result(raw, index: int, videos: dict, categories: dict | None, where: Where) -> dict:
    """One results-form entry -> keyword arguments for `Annotation` (id = index + 1)."""
    at = {"item": f"result #{index}"}
    _require(raw, ("video_id", "category_id", "score", "segmentations"), where, **at)
    at["video"] = raw["video_id"]
    _check_ids(raw, videos, categories, where, at)
    video = videos[raw["video_id"]]
    segs = check_segmentations(raw["segmentations"], video, where, at)
    _check_bboxes(raw, len(video["file_names"]), where, at)
    return {"id": index + 1, "video_id": raw["video_id"], "category_id": raw["category_id"],
            "segmentations": segs, "score": float(raw["score"]), "bboxes": raw.get("bboxes")}
