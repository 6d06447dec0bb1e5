"""Sessions saved by the studio before SQLite: migrated once, when opened.

The old layout kept `session.json` (settings, vocabulary, undo/redo history
with its mask differences), `annotations.json` (the tracks, YTVIS dataset form,
one revision behind if the process died between the two writes) and
`analysis.pt` (the engine's analysis, a pickle). Opening such a session builds
its database from the two JSON files (tracks, vocabulary, settings and the
whole history), then removes the old files. The pickle is never read: the
migrated session has no analysis, and the user is told to run the model again
before re-labelling or recovering dropped objects.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

import numpy as np

from clipvis.atomic import fsync_dir
from clipvis.formats import read_dataset
from clipvis.formats.rle import to_compressed

from app.session.db import FILE, Database
from app.session.edits import Edit, TrackChange
from app.session.tracks import Track, vocabulary_from_dict

FORMAT = "clipvis-studio-session/1"
OLD_FILES = ("session.json", "annotations.json", "analysis.pt")
NOTE = ("This session was saved by an earlier version of the studio and has been converted, with its undo "
        "history. The model's analysis could not be kept: press Run again before re-labelling or recovering "
        "dropped objects.")


def is_legacy(folder: Path) -> bool:
    return (Path(folder) / "session.json").is_file()


def summary(folder: Path) -> dict | None:
    """{id, name, frames, tracks, updated} of an old-layout session, or None."""
    try:
        obj = json.loads((Path(folder) / "session.json").read_text(encoding="utf-8"))
        m = obj["meta"]
        return {"id": m["id"], "name": m["original_name"], "frames": m["num_frames"],
                "tracks": obj.get("summary", {}).get("tracks", 0), "updated": m["updated"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_old_files(folder: Path) -> None:
    for name in OLD_FILES:
        with contextlib.suppress(FileNotFoundError):
            (Path(folder) / name).unlink()


class _Masks:
    """Distinct RLE strings of the old files, numbered as mask rows."""

    def __init__(self, size):
        self.size = [int(v) for v in size]
        self.ids: dict[str, int] = {}

    def ref(self, rle) -> int:
        if rle is None:
            return 0
        rle = to_compressed(rle)
        if [int(v) for v in rle["size"]] != self.size:
            raise ValueError(f"a mask is {rle['size']}, the video {self.size}")
        return self.ids.setdefault(rle["counts"], len(self.ids) + 1)


def _old_tracks(folder: Path, num_frames: int) -> dict:
    """{id: (meta, [rle or None per frame])} of annotations.json, and its revision."""
    path = folder / "annotations.json"
    if not path.exists():
        return {}, None
    ds = read_dataset(path)
    tracks = {}
    for a in ds.annotations:
        meta = a.extra.get("studio") or {"id": a.id, "category_id": a.category_id,
                                         "score": 1.0 if a.score is None else a.score, "origin": "imported"}
        segs = list(a.segmentations)
        if len(segs) != num_frames:
            raise ValueError(f"track #{a.id} has {len(segs)} frames, the video {num_frames}")
        tracks[a.id] = ({**meta, "id": a.id, "category_id": a.category_id}, segs)
    return tracks, ds.info.get("studio_revision")


def _apply_old(tracks: dict, edit: dict, *, forward: bool, num_frames: int) -> None:
    """The old store's replay of one history step, on {id: (meta, segs)}."""
    for ch in edit["changes"]:
        meta = ch["after"] if forward else ch["before"]
        if meta is None:
            tracks.pop(int(ch["id"]), None)
            continue
        current = tracks.get(int(ch["id"]))
        segs = list(current[1]) if current else [None] * num_frames
        for t, before, after in ch["frames"]:
            segs[int(t)] = after if forward else before
        tracks[int(ch["id"])] = (meta, segs)


def _new_edit(old: dict, masks: _Masks) -> Edit:
    changes = []
    for ch in old["changes"]:
        frames = [(int(t), masks.ref(a), masks.ref(b)) for t, a, b in ch["frames"]]
        changes.append(TrackChange(id=int(ch["id"]), before=ch["before"], after=ch["after"],
                                   frames=np.array([f for f, _, _ in frames], np.int64),
                                   refs_before=np.array([a for _, a, _ in frames], np.int64),
                                   refs_after=np.array([b for _, _, b in frames], np.int64)))
    return Edit(label=str(old["label"]), changes=changes, fields_before=dict(old.get("fields_before") or {}),
                fields_after=dict(old.get("fields_after") or {}), time=float(old.get("time", 0.0)))


def migrate(folder: Path) -> str:
    """Build `session.sqlite` from the old files, then remove them. Returns the
    note for the user. Raises ValueError, saying why, if they cannot be read."""
    from app.session import store

    folder = Path(folder)
    try:
        obj = json.loads((folder / "session.json").read_text(encoding="utf-8"))
        if obj.get("format") != FORMAT:
            raise ValueError(f"it is in an unknown format ({obj.get('format')!r})")
        old_meta = obj["meta"]
        meta = store.SessionMeta.from_json(old_meta)
        revision = int(obj["revision"])
        history = obj.get("history") or {}
        undo, redo = list(history.get("undo", [])), list(history.get("redo", []))
        tracks, ann_rev = _old_tracks(folder, meta.num_frames)
        if ann_rev is not None and int(ann_rev) == revision - 1:  # died between the two writes: replay
            last = obj.get("last_action", "do")
            if last in ("do", "redo") and undo:
                _apply_old(tracks, undo[-1], forward=True, num_frames=meta.num_frames)
            elif last == "undo" and redo:
                _apply_old(tracks, redo[-1], forward=False, num_frames=meta.num_frames)
        masks = _Masks((meta.height, meta.width))
        new_tracks = [Track.from_meta(m, np.array([masks.ref(s) for s in segs], np.int64))
                      for m, segs in tracks.values()]
        done = [_new_edit(e, masks) for e in undo]
        undone = [_new_edit(e, masks) for e in reversed(redo)]  # the next redo first
        vocabulary = vocabulary_from_dict(obj["vocabulary"])
        ever = [t.id for t in new_tracks] + [c.id for e in done + undone for c in e.changes]
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise ValueError(f"this session was saved by an earlier version of the studio and cannot be converted "
                         f"({e})") from None

    state = store.TrackSet(num_frames=meta.num_frames, height=meta.height, width=meta.width, vocabulary=vocabulary,
                           dismissed=set(obj.get("dismissed", [])), next_id=max(ever, default=0) + 1)
    settings = store.initial_settings(meta, state)
    settings.update(revision=json.dumps(revision), file_names=json.dumps(list(meta.file_names)))
    meta_json = json.loads(settings["meta"])
    meta_json["file_names"] = []
    settings["meta"] = json.dumps(meta_json)
    tmp = folder / f".{FILE}.migrating"
    for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        leftover.unlink(missing_ok=True)
    db = Database.create(tmp, settings)
    try:
        with db.write() as cur:
            cur.executemany("INSERT INTO masks VALUES (?, 0, ?)",
                            [(i, counts.encode("ascii")) for counts, i in masks.ids.items()])
            store.write_tracks(cur, {t.id: t for t in new_tracks}, revision)
            for seq, edit in enumerate(done + undone, start=1):
                store.write_edit(cur, seq, edit)
            if undone:
                cur.executemany("UPDATE edits SET undone = 1 WHERE seq = ?",
                                [(s,) for s in range(len(done) + 1, len(done) + len(undone) + 1)])
        db._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file before it moves
    finally:
        db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, folder / FILE)
    fsync_dir(folder)
    remove_old_files(folder)
    return NOTE
