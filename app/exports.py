"""Downloads: YTVIS dataset and results JSON, DAVIS palette PNGs (zip), overlay mp4.

Exports stream from the database: one read transaction (a snapshot of what
is committed) is open while the file is written, tracks are read from it, and
masks one track (JSON) or one frame (PNGs, video) at a time. So an export
never holds an edit that is not on disk, and its memory does not grow with
the video's length. The JSON of each annotation and category is made by
clipvis.formats, as everywhere else.

Exports hold the tracks the user sees: hidden tracks and those under the
score threshold are left out (the message says how many). The dataset form
keeps each track's studio fields under "studio", so importing it back into
the same session reproduces the tracks exactly.

Files go to the session's own `exports/` folder (the latest of each kind is
kept), so deleting the session deletes them; Gradio serves a copy.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import cv2

from clipvis.atomic import atomic_path
from clipvis.formats import Annotation, Category, Video, results_to_json
from clipvis.formats.davis import label_maps, video_folder_name, write_label_pngs
from clipvis.formats.overlay import export_overlay
from clipvis.labeling.frames import JPEG_QUALITY

from app.session import store
from app.session.tracks import Track, vocabulary_from_dict

KINDS = {"dataset": "YTVIS dataset JSON", "frames": "YTVIS dataset with its frames (zip)",
         "results": "YTVIS results JSON", "davis": "DAVIS PNG masks (zip)", "overlay": "overlay video (mp4)"}


@dataclass
class Snapshot:
    """The committed document, read in one transaction of a reader connection."""

    conn: object
    session: object
    meta: store.SessionMeta
    vocabulary: object
    tracks: list  # the shown ones: not hidden, score at least the threshold; best first
    left_out: int
    revision: int

    def rle(self, track: Track, t: int) -> dict | None:
        ref = int(track.refs[t])
        if ref <= 0:  # absent, or a lazy reference into a stored analysis (files that never change)
            return self.session.masks.rle(ref, t)
        row = self.conn.execute("SELECT counts FROM masks WHERE id = ?", (ref,)).fetchone()
        return {"size": [self.meta.height, self.meta.width], "counts": bytes(row[0]).decode("ascii")}

    def segmentations(self, track: Track) -> list:
        return [self.rle(track, t) for t in range(self.meta.num_frames)]

    def video(self) -> Video:
        # file_names as `clipvis label` writes them: <the user's file name>/<frame index>.jpg, relative
        # to a JPEGImages folder (the "frames" export holds exactly those files).
        folder = video_folder(self.meta)
        names = [f"{folder}/{PurePosixPath(n).name}" for n in self.meta.file_names]
        return Video(id=1, width=self.meta.width, height=self.meta.height, file_names=names,
                     extra={"name": Path(self.meta.original_name).stem or "video", "fps": self.meta.fps})

    def categories(self) -> list[Category]:
        # Every class with its own id, partition and supercategory ("object" where none is known).
        return self.vocabulary.categories()

    def annotation(self, track: Track, *, studio_fields: bool = True) -> Annotation:
        return Annotation(id=track.id, video_id=1, category_id=track.category_id,
                          segmentations=self.segmentations(track), score=float(track.score),
                          extra={"studio": track.meta()} if studio_fields else {})


@contextlib.contextmanager
def committed(session):
    """A Snapshot of what is on disk now, valid inside the block."""
    conn = session.db.reader()
    conn.execute("BEGIN")
    try:
        rows = dict(conn.execute("SELECT key, value FROM settings").fetchall())
        meta = store.SessionMeta.from_json({**json.loads(rows["meta"]), "file_names": json.loads(rows["file_names"])})
        tracks = []
        for meta_json, refs in conn.execute("SELECT meta, refs FROM tracks ORDER BY id"):
            tracks.append(Track.from_meta(json.loads(meta_json), store.unpack(refs)))
        shown = sorted((t for t in tracks if not t.hidden and t.score >= meta.threshold), key=lambda t: (-t.score, t.id))
        yield Snapshot(conn=conn, session=session, meta=meta, vocabulary=vocabulary_from_dict(json.loads(rows["vocabulary"])),
                       tracks=shown, left_out=len(tracks) - len(shown), revision=int(rows["revision"]))
    finally:
        conn.execute("COMMIT")


def video_folder(meta) -> str:
    """The video's folder under JPEGImages: the user's file name, extension included
    (`clip.mp4/`), so two uploads named `a.mp4` and `a.avi` never share one."""
    name = Path(str(meta.original_name).replace("\\", "/")).name.strip()
    return name if name not in ("", ".", "..") else "video"


def _stem(meta) -> str:
    # A download name from the user's file name, reduced to safe characters.
    raw = Path(meta.original_name).stem
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in raw)[:60].strip("_")
    return safe or "video"


def _fresh_folder(session, kind: str) -> Path:
    """exports/<kind>/, emptied: the latest export of each kind is kept."""
    folder = session.folder / "exports" / kind
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def _write_stream(path: Path, parts) -> Path:
    """Write text parts to `path` atomically and durably."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            for part in parts:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())
    return path


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, allow_nan=False)


def _dataset_parts(snap: Snapshot, session_id: str):
    """The YTVIS dataset form (as YTVISDataset.to_json lays it out), one annotation at a time."""
    video = snap.video()
    info = {"description": f"CLIP-VIS Studio: {snap.meta.original_name}", "studio_session": session_id,
            "studio_revision": snap.revision}
    yield '{"info": ' + _json(info) + ', "licenses": [], "videos": [' + _json(video.to_json()) + "], "
    yield '"categories": ' + _json([c.to_json() for c in snap.categories()]) + ', "annotations": ['
    for i, track in enumerate(snap.tracks):
        yield ("" if i == 0 else ", ") + _json(snap.annotation(track).to_json(video))
    yield "]}\n"


def _results_parts(snap: Snapshot):
    yield "["
    for i, track in enumerate(snap.tracks):
        yield ("" if i == 0 else ", ") + _json(results_to_json([snap.annotation(track, studio_fields=False)])[0])
    yield "]\n"


class _LazySegmentations:
    """A track's per-frame RLE, read from the snapshot when indexed."""

    def __init__(self, snap: Snapshot, track: Track):
        self.snap, self.track = snap, track

    def __len__(self):
        return self.snap.meta.num_frames

    def __getitem__(self, t):
        return self.snap.rle(self.track, t)


def _davis(snap: Snapshot, folder: Path, stem: str) -> Path:
    video = snap.video()
    names = {c.id: c.name for c in snap.vocabulary.classes}
    scores = [t.score for t in snap.tracks]

    def maps():  # the formats module's painting rule, one frame at a time
        for f in range(snap.meta.num_frames):
            yield label_maps([[snap.rle(t, f)] for t in snap.tracks], video.height, video.width, 1, scores)[0]

    meta = {"video_id": video.id, "file_names": video.file_names, "instances": [
        {"value": k + 1, "annotation_id": t.id, "category_id": t.category_id, "category": names.get(t.category_id),
         "score": t.score} for k, t in enumerate(snap.tracks)]}
    pngs = write_label_pngs(folder / "davis" / video_folder_name(video), maps(), meta)
    path = folder / f"{stem}_davis.zip"
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(pngs.rglob("*")):
            if f.is_file():
                zf.write(f, f.relative_to(folder / "davis"))
    shutil.rmtree(folder / "davis", ignore_errors=True)
    return path


def _dataset_with_frames(snap: Snapshot, session, folder: Path, stem: str) -> Path:
    """A zip a YTVIS trainer reads as it is: the dataset JSON beside JPEGImages/<video>/<index>.jpg,
    one file for every `file_names` entry (the session's frames, decoded afresh, JPEG quality 95
    as `clipvis label` writes them). One frame in memory at a time."""
    json_path = _write_stream(folder / f"{stem}_ytvis_dataset.json", _dataset_parts(snap, snap.meta.id))
    names = snap.video().file_names
    path = folder / f"{stem}_ytvis_dataset_with_frames.zip"
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:  # JPEGs: no gain deflating
        zf.write(json_path, json_path.name)
        written = 0
        for (_, rgb), name in zip(session.open_video(), names):
            ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
            if not ok:
                raise ValueError(f"could not encode frame {written} as JPEG")
            zf.writestr(f"JPEGImages/{name}", jpeg.tobytes())
            written += 1
        if written != len(names):
            raise ValueError(f"the video gave {written} frames where the session has {len(names)}")
    json_path.unlink()
    return path


def export(session, kind: str) -> tuple[Path, str]:
    """Write one export of what is on disk; returns (file, message)."""
    if kind not in KINDS:
        raise ValueError(f"unknown export {kind!r}")
    with committed(session) as snap:
        if not snap.tracks and kind != "dataset":
            raise ValueError("there are no instances to export (none, or all hidden / under the threshold)")
        folder = _fresh_folder(session, kind)
        stem = _stem(snap.meta)
        if kind == "dataset":
            path = _write_stream(folder / f"{stem}_ytvis_dataset.json", _dataset_parts(snap, snap.meta.id))
        elif kind == "frames":
            path = _dataset_with_frames(snap, session, folder, stem)
        elif kind == "results":
            path = _write_stream(folder / f"{stem}_ytvis_results.json", _results_parts(snap))
        elif kind == "davis":
            path = _davis(snap, folder, stem)
        else:
            names = {c.id: c.name for c in snap.vocabulary.classes}
            anns = [Annotation(id=t.id, video_id=1, category_id=t.category_id,
                               segmentations=_LazySegmentations(snap, t), score=float(t.score)) for t in snap.tracks]
            path = export_overlay(folder / f"{stem}_overlay.mp4", session.open_video(), anns,
                                  category_names=names, fps=snap.meta.fps or None)
        shown, left_out = len(snap.tracks), snap.left_out
    note = f" ({left_out} hidden or under the threshold left out)" if left_out else ""
    return path, f"Exported {shown} instances as {KINDS[kind]}{note}."
