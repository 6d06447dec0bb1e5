"""DAVIS-style masks: one folder per video, one palette PNG per frame.

Pixel value k is instance k (0 is background), coloured with the standard
DAVIS palette (the PASCAL VOC colour map), so DAVIS tools read the folders as
they are. A PNG can hold one instance per pixel: where tracks overlap, the
higher-scored one is kept. `instances.json` beside the PNGs says which
annotation each k is, so a folder can be read back into tracks.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from clipvis.atomic import atomic_dir, write_json
from clipvis.formats.rle import mask_to_rle, rle_to_mask
from clipvis.formats.validate import YTVISError

MAX_INSTANCES = 255  # values of an 8-bit palette image, less the background
META_FILE = "instances.json"


def _voc_palette() -> np.ndarray:
    """(256, 3) uint8: entry i spreads the bits of i over the high bits of R, G, B
    (bit 0 -> R, bit 1 -> G, bit 2 -> B, then the next three one bit lower)."""
    i = np.arange(256)
    pal = np.zeros((256, 3), dtype=np.int64)
    for level in range(8):
        for channel in range(3):
            pal[:, channel] |= ((i >> (3 * level + channel)) & 1) << (7 - level)
    return pal.astype(np.uint8)


DAVIS_PALETTE = _voc_palette()


def video_folder_name(video) -> str:
    """The folder a video's frames live in: its `name`, else the folder of its
    file_names (YTVIS `JPEGImages/<video>/`), else its id."""
    if video.extra.get("name"):
        return str(video.extra["name"])
    first = video.file_names[0] if video.file_names else ""
    return first.rsplit("/", 1)[0] if "/" in first else str(video.id)


def label_maps(tracks: list, height: int, width: int, length: int, scores=None) -> list[np.ndarray]:
    """Per-frame (H, W) uint8 maps; tracks: per instance, per frame RLE or None.

    Painted lowest score first so the best-scored instance wins overlaps
    (ties: the later track wins, a fixed rule)."""
    if len(tracks) > MAX_INSTANCES:
        raise YTVISError(f"a palette PNG holds at most {MAX_INSTANCES} instances, the video has {len(tracks)}")
    scores = [0.0 if s is None else s for s in (scores or [None] * len(tracks))]
    order = sorted(range(len(tracks)), key=lambda k: scores[k])
    maps = []
    for f in range(length):
        lab = np.zeros((height, width), dtype=np.uint8)
        for k in order:
            seg = tracks[k][f]
            if seg is not None:
                lab[rle_to_mask(seg)] = k + 1
        maps.append(lab)
    return maps


def write_label_pngs(folder, maps, meta: dict | None = None) -> Path:
    """Write `00000.png`, ... (and `instances.json` if meta) into `folder`
    atomically: a reader sees all frames or the old folder, never a mix."""
    with atomic_dir(folder) as tmp:
        for f, lab in enumerate(maps):
            im = Image.fromarray(lab, mode="P")
            im.putpalette(DAVIS_PALETTE.tobytes())
            im.save(tmp / f"{f:05d}.png")
        if meta is not None:
            write_json(tmp / META_FILE, meta, indent=1)
    return Path(folder)


def export_davis(dataset, out_dir, *, video_ids=None) -> list[Path]:
    """One folder per video under out_dir; returns the folders written."""
    out_dir = Path(out_dir)
    cats = {c.id: c.name for c in dataset.categories}
    written = []
    for video in dataset.videos:
        if video_ids is not None and video.id not in video_ids:
            continue
        anns = dataset.annotations_of(video.id)
        maps = label_maps([a.segmentations for a in anns], video.height, video.width, video.length,
                          [a.score for a in anns])
        meta = {"video_id": video.id, "file_names": video.file_names, "instances": [
            {"value": k + 1, "annotation_id": a.id, "category_id": a.category_id,
             "category": cats.get(a.category_id), "score": a.score} for k, a in enumerate(anns)]}
        written.append(write_label_pngs(out_dir / video_folder_name(video), maps, meta))
    return written


def read_davis(folder) -> tuple[dict, dict]:
    """A DAVIS folder -> ({k: per-frame RLE or None}, the instances.json content or {}).

    Frames are the folder's PNGs in name order; every value k > 0 found is an
    instance."""
    folder = Path(folder)
    pngs = sorted(folder.glob("*.png"))
    if not pngs:
        raise YTVISError(f"{folder}: holds no PNG masks")
    maps = []
    for p in pngs:
        with Image.open(p) as im:
            if im.mode not in ("P", "L"):
                raise YTVISError(f"{p}: a DAVIS mask is a palette (or grey) PNG, this one is {im.mode}")
            lab = np.asarray(im)
        if maps and lab.shape != maps[0].shape:
            raise YTVISError(f"{p}: is {lab.shape[1]}x{lab.shape[0]}, but {pngs[0].name} is "
                             f"{maps[0].shape[1]}x{maps[0].shape[0]}")
        maps.append(lab)
    values = sorted(set().union(*(np.unique(lab).tolist() for lab in maps)) - {0})
    tracks = {k: [mask_to_rle(lab == k) if (lab == k).any() else None for lab in maps] for k in values}
    meta_path = folder / META_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.exists() else {}
    return tracks, meta
