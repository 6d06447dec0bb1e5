"""A session on disk, written atomically after every edit.

    <workdir>/<browser id>/<session id>/
        session.json       settings, vocabulary (with synonyms), undo/redo history, revision
        annotations.json   the tracks, YTVIS dataset form (clipvis.formats); studio-only
                           track fields (query, origin, hidden, ...) under each annotation's "studio"
        source.mp4 | source.zip | source_frames/   the upload, under a generated name
        frames/            display JPEGs
        analysis.pt        the engine's VideoAnalysis, for re-query and promotion after a restart
        exports/           what the user downloaded

Crash safety: session.json (holding the edit in its history) is written
before annotations.json, each atomically, and both carry a revision number.
If the process dies between the two, the loader finds annotations one
revision behind and replays the last history step, so no edit is lost.
"""
from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from clipvis.atomic import atomic_path, write_json
from clipvis.formats import Annotation, Category, Video, YTVISDataset, read_dataset, write_dataset

from app.session.edits import History, apply
from app.session.frames import safe_id
from app.session.tracks import Track, TrackSet, vocabulary_from_dict, vocabulary_to_dict

FORMAT = "clipvis-studio-session/1"


@dataclass
class SessionMeta:
    """Everything about a session that is not tracks or history."""

    id: str
    original_name: str  # the user's file name: shown, never used as a path
    source: str  # path of the upload relative to the session folder
    stride: int = 1
    max_frames: int | None = None
    min_size: int = 480  # model input's shortest edge
    fps: float = 0.0
    num_frames: int = 0
    height: int = 0  # full-size frames
    width: int = 0
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    threshold: float = 0.0
    model: str = ""  # the checkpoint of the last run
    vocab_text: str = ""  # the vocabulary as the user asked for it, to fill the inputs on resume
    vocab_std: str = ""
    file_names: list = field(default_factory=list)

    @classmethod
    def from_json(cls, obj: dict) -> "SessionMeta":
        known = {k: v for k, v in obj.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def session_dir(root: Path, browser_id: str, session_id: str) -> Path:
    return Path(root) / safe_id(browser_id) / safe_id(session_id)


def to_dataset(meta: SessionMeta, state: TrackSet, tracks=None, *, studio_fields=True, revision=None) -> YTVISDataset:
    """The tracks as one YTVIS video; `tracks` defaults to all of them."""
    video = Video(id=1, width=meta.width, height=meta.height, file_names=list(meta.file_names),
                  extra={"name": Path(meta.original_name).stem or "video", "fps": meta.fps})
    cats = [Category(id=c.id, name=c.name, extra={} if c.partition is None else {"partition": c.partition})
            for c in state.vocabulary.classes]
    anns = []
    for t in (state.tracks.values() if tracks is None else tracks):
        extra = {"studio": t.meta()} if studio_fields else {}
        anns.append(Annotation(id=t.id, video_id=1, category_id=t.category_id, segmentations=list(t.segmentations),
                               score=float(t.score), extra=extra))
    info = {"description": f"CLIP-VIS Studio: {meta.original_name}", "studio_session": meta.id}
    if revision is not None:
        info["studio_revision"] = revision
    return YTVISDataset(videos=[video], categories=cats, annotations=anns, info=info)


def tracks_from_dataset(ds: YTVISDataset) -> dict:
    tracks = {}
    for a in ds.annotations:
        meta = a.extra.get("studio") or {"id": a.id, "category_id": a.category_id,
                                         "score": 1.0 if a.score is None else a.score, "origin": "imported"}
        meta = {**meta, "id": a.id, "category_id": a.category_id}
        tracks[a.id] = Track.from_meta(meta, a.segmentations)
    return tracks


def save(folder: Path, meta: SessionMeta, state: TrackSet, history: History, revision: int, last_action: str):
    meta.updated = time.time()
    session = {"format": FORMAT, "revision": revision, "last_action": last_action, "meta": asdict(meta),
               "vocabulary": vocabulary_to_dict(state.vocabulary), "dismissed": sorted(state.dismissed),
               "summary": {"tracks": len(state.tracks)}, "history": history.to_json()}
    write_json(folder / "session.json", session)
    write_dataset(folder / "annotations.json", to_dataset(meta, state, revision=revision))


def load(folder: Path) -> tuple[SessionMeta, TrackSet, History, int]:
    """Read a session back; replays the last edit if annotations.json lags (see module doc)."""
    try:
        obj = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"session {folder.name} cannot be read ({e})") from None
    if obj.get("format") != FORMAT:
        raise ValueError(f"session {folder.name} was written by another version ({obj.get('format')})")
    meta = SessionMeta.from_json(obj["meta"])
    history = History.from_json(obj["history"])
    revision = int(obj["revision"])
    state = TrackSet(num_frames=meta.num_frames, height=meta.height, width=meta.width,
                     vocabulary=vocabulary_from_dict(obj["vocabulary"]), dismissed=set(obj.get("dismissed", [])))
    ann_path = folder / "annotations.json"
    if ann_path.exists():
        ds = read_dataset(ann_path)
        state.tracks = tracks_from_dataset(ds)
        ann_rev = int(ds.info.get("studio_revision", revision))
    else:
        ann_rev = revision - 1
    if ann_rev == revision - 1:
        _replay(state, history, obj.get("last_action", "do"))
    elif ann_rev != revision:
        warnings.warn(f"session {folder.name}: annotations at revision {ann_rev}, session at {revision}")
    # session.json is the later write: its vocabulary and dismissed set are current.
    state.vocabulary = vocabulary_from_dict(obj["vocabulary"])
    state.dismissed = set(obj.get("dismissed", []))
    return meta, state, history, revision


def _replay(state: TrackSet, history: History, last_action: str) -> None:
    if last_action in ("do", "redo") and history.undo_stack:
        apply(state, history.undo_stack[-1], forward=True)
    elif last_action == "undo" and history.redo_stack:
        apply(state, history.redo_stack[-1], forward=False)


def list_sessions(root: Path, browser_id: str) -> list[dict]:
    """This browser's sessions, newest first: {id, name, frames, tracks, updated}."""
    folder = Path(root) / safe_id(browser_id)
    out = []
    for d in folder.glob("*/session.json") if folder.is_dir() else []:
        try:
            obj = json.loads(d.read_text(encoding="utf-8"))
            m = obj["meta"]
            out.append({"id": m["id"], "name": m["original_name"], "frames": m["num_frames"],
                        "tracks": obj.get("summary", {}).get("tracks", 0), "updated": m["updated"]})
        except (OSError, ValueError, KeyError):
            continue  # a half-created or foreign folder is not a session
    return sorted(out, key=lambda s: -s["updated"])


def save_analysis(folder: Path, analysis) -> None:
    """The engine's vocabulary-free record of the video pass (tensors and
    compressed masks), so re-query and promotion survive a restart."""
    with atomic_path(folder / "analysis.pt") as tmp:
        torch.save(analysis, tmp)


def load_analysis(folder: Path):
    path = folder / "analysis.pt"
    if not path.exists():
        return None
    try:
        # Our own file, written by save_analysis on this server: the pickle is trusted.
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # an analysis from another engine version: re-run to get one
        warnings.warn(f"{path}: cannot load the stored analysis ({type(e).__name__}: {e})")
        return None
