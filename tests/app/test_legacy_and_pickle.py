"""Sessions saved as JSON by earlier versions migrate once, with their undo
history; their pickled analysis is never read. And no pickle is reachable
from app/: not in its code, not when a session is stored and opened."""
from __future__ import annotations

import ast
import json
import pickle
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from clipvis.formats import Annotation, Category, Video, YTVISDataset, write_dataset
from clipvis.formats.rle import mask_to_rle, rle_to_mask
from tests.app.conftest import BROWSER, squares_masks

from app.session import Session, legacy, store

REPO = Path(__file__).resolve().parents[2]


class _Marker:
    """Unpickling this writes a file: the migration must never unpickle."""

    path = None

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def old_edit(label, changes, fields_before=None, fields_after=None):
    return {"label": label, "time": time.time(), "fields_before": fields_before or {},
            "fields_after": fields_after or {}, "changes": changes}


def write_old_session(folder: Path, meta: store.SessionMeta, tracks: dict, vocab: dict, undo: list, redo: list,
                      revision: int, annotations_revision: int | None = None):
    """The old store's two files: session.json (history with mask differences) and annotations.json."""
    session = {"format": legacy.FORMAT, "revision": revision, "last_action": "do",
               "meta": {**asdict(meta), "model": "default"}, "vocabulary": vocab, "dismissed": [3],
               "summary": {"tracks": len(tracks)}, "history": {"undo": undo, "redo": redo}}
    (folder / "session.json").write_text(json.dumps(session))
    video = Video(id=1, width=meta.width, height=meta.height, file_names=list(meta.file_names))
    cats = [Category(id=c["id"], name=c["name"]) for c in vocab["classes"]]
    anns = [Annotation(id=tid, video_id=1, category_id=m["category_id"], segmentations=segs, score=m["score"],
                       extra={"studio": m}) for tid, (m, segs) in tracks.items()]
    rev = revision if annotations_revision is None else annotations_revision
    write_dataset(folder / "annotations.json", YTVISDataset(videos=[video], categories=cats, annotations=anns,
                                                           info={"studio_revision": rev, "studio_session": meta.id}))


def track_meta(tid, cid, score, by_hand=False):
    return {"id": tid, "category_id": cid, "score": score, "query": tid + 10, "origin": "model", "by_hand": by_hand,
            "hidden": False, "top_classes": [[cid, score]]}


@pytest.fixture
def old_session(session, tmp_path):
    """A session folder as the JSON store left it: #1 relabelled square → circle
    and #2 painted on frame 4 (both undoable), and a delete of #2 undone (redoable)."""
    folder, meta = session.folder, session.meta
    session.close()
    for f in folder.glob("session.sqlite*"):
        f.unlink()
    red, green = squares_masks()
    painted = np.zeros((72, 96), bool)
    painted[0:6, 0:6] = True
    r, g = [mask_to_rle(m) for m in red], [mask_to_rle(m) for m in green]
    g_now = list(g)
    g_now[4] = mask_to_rle(painted)
    vocab = {"name": "custom", "classes": [{"id": 1, "name": "square", "synonyms": ["square"]},
                                           {"id": 2, "name": "blob", "synonyms": ["blob"]},
                                           {"id": 3, "name": "circle", "synonyms": ["circle"]}]}
    old_vocab = {**vocab, "classes": vocab["classes"][:2]}
    before1, after1 = track_meta(1, 1, 0.9), track_meta(1, 3, 0.9, by_hand=True)
    undo = [old_edit("Relabel #1 square → circle", [{"id": 1, "before": before1, "after": after1, "frames": []}],
                     {"vocabulary": old_vocab}, {"vocabulary": vocab}),
            old_edit("Paint #2 on frame 4", [{"id": 2, "before": track_meta(2, 2, 0.4), "after": track_meta(2, 2, 0.4),
                                             "frames": [[4, g[4], g_now[4]]]}])]
    redo = [old_edit("Delete #2 blob", [{"id": 2, "before": track_meta(2, 2, 0.4), "after": None,
                                         "frames": [[t, s, None] for t, s in enumerate(g_now)]}])]
    tracks = {1: (after1, r), 2: (track_meta(2, 2, 0.4), g_now)}
    write_old_session(folder, meta, tracks, vocab, undo, redo, revision=5)
    _Marker.path = tmp_path / "unpickled.txt"
    (folder / "analysis.pt").write_bytes(pickle.dumps(_Marker()))
    return {"folder": folder, "meta": meta, "green": green, "painted": painted, "marker": _Marker.path}


def test_an_old_session_migrates_with_its_history(old_session):
    folder, meta = old_session["folder"], old_session["meta"]
    listed = store.list_sessions(folder.parent.parent, BROWSER)
    assert [s["id"] for s in listed] == [meta.id]  # listed before it is ever opened
    s = Session.open(folder.parent.parent, BROWSER, meta.id)
    assert s.notes == [legacy.NOTE] and "press Run again" in s.notes[0]
    assert not old_session["marker"].exists()  # the pickle was never read
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(("session", "annotations", "analysis"))) \
        == ["session.sqlite", "session.sqlite-shm", "session.sqlite-wal"]
    assert s.analysis is None and s.revision == 5 and s.state.dismissed == {3}
    assert s.state.class_name(s.state.get(1).category_id) == "circle" and s.state.get(1).by_hand
    assert np.array_equal(rle_to_mask(s.segmentations(2)[4]), old_session["painted"])
    assert [label for _, label in s.undo_stack] == ["Relabel #1 square → circle", "Paint #2 on frame 4"]
    assert [label for _, label in s.redo_stack] == ["Delete #2 blob"]
    s.undo()
    assert np.array_equal(rle_to_mask(s.segmentations(2)[4]), old_session["green"][4])
    s.undo()
    assert s.state.class_name(s.state.get(1).category_id) == "square"
    assert "circle" not in s.state.vocabulary.names
    s.redo(), s.redo(), s.redo()
    assert set(s.state.tracks) == {1}
    # Migrated once: opening it again reads the database, with no note.
    again = Session.open(folder.parent.parent, BROWSER, meta.id)
    assert again.notes == [] and set(again.state.tracks) == {1}


def test_annotations_one_revision_behind_are_replayed(old_session):
    """The old store wrote session.json first: if it died before annotations.json,
    the last step is in the history only. The migration replays it."""
    folder, meta = old_session["folder"], old_session["meta"]
    ann = json.loads((folder / "annotations.json").read_text())
    _, green = squares_masks()  # annotations.json as it was before the paint
    for a in ann["annotations"]:
        if a["id"] == 2:
            a["segmentations"][4] = mask_to_rle(green[4])
    ann["info"]["studio_revision"] = 4
    (folder / "annotations.json").write_text(json.dumps(ann))
    s = Session.open(folder.parent.parent, BROWSER, meta.id)
    assert np.array_equal(rle_to_mask(s.segmentations(2)[4]), old_session["painted"])


def test_an_unreadable_old_session_is_refused_clearly(old_session):
    folder, meta = old_session["folder"], old_session["meta"]
    obj = json.loads((folder / "session.json").read_text())
    obj["format"] = "something else"
    (folder / "session.json").write_text(json.dumps(obj))
    with pytest.raises(ValueError, match="earlier version of the studio and cannot be converted"):
        Session.open(folder.parent.parent, BROWSER, meta.id)
    assert (folder / "session.json").exists() and not (folder / "session.sqlite").exists()  # nothing lost


# ---- no pickle reachable from app/ ---------------------------------------------------------

def _unsafe_calls(path: Path) -> list[str]:
    """`pickle` imports and any torch.load without weights_only=True, in one file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            if any(n and n.split(".")[0] in ("pickle", "cPickle", "dill", "joblib") for n in names):
                found.append(f"{path.name}:{node.lineno} imports pickle")
        if isinstance(node, ast.Call):
            func = ast.unparse(node.func)
            if func.endswith(("torch.load", "pickle.load", "pickle.loads", "Unpickler")):
                safe = any(k.arg == "weights_only" and isinstance(k.value, ast.Constant) and k.value.value is True
                           for k in node.keywords)
                if not safe:
                    found.append(f"{path.name}:{node.lineno} {func}(...) without weights_only=True")
    return found


def test_no_pickle_in_the_app_or_the_analysis_store():
    files = sorted((REPO / "app").rglob("*.py")) + [REPO / "app.py", REPO / "clipvis" / "analysis_io.py"]
    assert len(files) > 20
    assert [f for path in files for f in _unsafe_calls(path)] == []


def test_the_check_finds_what_it_looks_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nimport torch\nx = torch.load('a.pt', weights_only=False)\ny = torch.load('b')\n"
                   "z = torch.load('c', weights_only=True)\n")
    assert _unsafe_calls(bad) == ["bad.py:1 imports pickle", "bad.py:3 torch.load(...) without weights_only=True",
                                  "bad.py:4 torch.load(...) without weights_only=True"]


def test_storing_and_opening_a_session_never_unpickles(tracked, monkeypatch):
    """At run time too: with every unpickler disabled, a session with a stored
    analysis saves, reopens and decodes its masks."""
    import torch

    from clipvis import analysis_io
    from tests.data.test_analysis_io import GEOMETRIES, synthetic_analysis

    def refuse(*args, **kwargs):
        raise AssertionError("something unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)
    stored = analysis_io.compact(synthetic_analysis(GEOMETRIES[0], frames=8, q=3))
    path = tracked.analyses.save(1, stored)
    loaded = analysis_io.load(path)
    assert analysis_io.mask_mismatches(stored.analysis, loaded.analysis) == []
    again = Session.open(tracked.folder.parents[1], BROWSER, tracked.meta.id)
    assert again.segmentations(1)[0] is not None
