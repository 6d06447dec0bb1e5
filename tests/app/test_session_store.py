"""Sessions on disk: uploads, limits, listing, atomic saves and crash recovery."""
from __future__ import annotations

import json
import sqlite3
import zipfile

import cv2
import numpy as np
import pytest

from tests.app.conftest import BROWSER
from tests.conftest import moving_squares_video

from app.session import Limits, Session, UploadError, store


def test_upload_is_stored_under_a_generated_name(session):
    assert session.source_path.name == "source.mp4"
    assert session.source_path.parent == session.folder
    assert session.meta.original_name == "../../etc/passwd.mp4"  # kept as data only
    assert (session.meta.num_frames, session.meta.height, session.meta.width) == (8, 72, 96)
    assert session.frames.get(3).shape == (480, 640, 3)  # small videos are shown enlarged
    assert len(list((session.folder / "frames").glob("*.jpg"))) == 8


def test_sessions_are_listed_per_browser(tmp_path, session, video_file):
    root = tmp_path / "work"
    other = Session.create(root, "c" * 32, [video_file], "other.mp4")
    assert [s["id"] for s in store.list_sessions(root, BROWSER)] == [session.meta.id]
    assert [s["id"] for s in store.list_sessions(root, "c" * 32)] == [other.meta.id]
    with pytest.raises(ValueError, match="not a valid id"):
        store.list_sessions(root, "../" + BROWSER)


def test_stride_and_frame_limit(tmp_path, video_file):
    s = Session.create(tmp_path / "w", BROWSER, [video_file], "v.mp4", stride=2, max_frames=3)
    assert s.meta.num_frames == 3 and s.meta.fps == pytest.approx(2.5)
    with pytest.raises(UploadError, match="at most 4"):
        Session.create(tmp_path / "w", BROWSER, [video_file], "v.mp4", limits=Limits(max_frames=4))
    with pytest.raises(UploadError, match="at most 0 MB"):
        Session.create(tmp_path / "w", BROWSER, [video_file], "v.mp4", limits=Limits(max_upload_mb=0.0001))
    # A refused upload leaves nothing behind.
    assert [p.name for p in (tmp_path / "w" / BROWSER).iterdir()] == [s.meta.id]


def test_frames_as_zip_and_as_folder(tmp_path):
    frames = moving_squares_video(5)
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(frames):  # names that sort wrongly as text: natural order is needed
        cv2.imwrite(str(folder / f"img{i * 5}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    zpath = tmp_path / "frames.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    for upload in ([zpath], sorted(folder.iterdir())):
        s = Session.create(tmp_path / "w", BROWSER, upload, "clip")
        assert s.meta.num_frames == 5
        # Frame 4 (img20) must come last: its red square starts at x = 5 + 2 * 4.
        shown = s.frames.get(4)
        red_cols = np.flatnonzero((shown[:, :, 0] > 180).any(0))
        assert abs(red_cols.min() * 96 / shown.shape[1] - 13) <= 1


def test_bad_upload_is_refused_with_a_message(tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    with pytest.raises(UploadError, match="not a video"):
        Session.create(tmp_path / "w", BROWSER, [bad], "notes.txt")
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(b"\x00" * 100)
    with pytest.raises(ValueError, match="fake|source"):
        Session.create(tmp_path / "w", BROWSER, [fake], "fake.mp4")


def test_every_edit_is_on_disk_before_it_returns(tracked):
    """Each edit is committed when the call returns: another connection sees it."""
    tracked.relabel(1, "circle")
    tracked.delete(2)
    with sqlite3.connect(tracked.folder / "session.sqlite") as conn:
        assert [r[0] for r in conn.execute("SELECT id FROM tracks")] == [1]
        meta = json.loads(conn.execute("SELECT meta FROM tracks WHERE id = 1").fetchone()[0])
        vocab = json.loads(conn.execute("SELECT value FROM settings WHERE key = 'vocabulary'").fetchone()[0])
        assert vocab["classes"][meta["category_id"] - 1]["name"] == "circle"
        assert int(conn.execute("SELECT value FROM settings WHERE key = 'revision'").fetchone()[0]) == tracked.revision
        labels = [r[0] for r in conn.execute("SELECT label FROM edits WHERE undone = 0 ORDER BY seq")]
    assert labels[-2:] == ["Relabel #1 square → circle", "Delete #2 blob"]
    assert sorted(p.name for p in tracked.folder.iterdir()) == ["frames", "session.sqlite", "session.sqlite-shm",
                                                               "session.sqlite-wal", "source.mp4"]


def test_an_edit_writes_only_the_rows_it_changes(tracked):
    """A relabel adds no mask; a brush stroke adds one; a merge moves references, never masks."""
    def masks():
        return tracked.db.query("SELECT COUNT(*) FROM masks")[0][0]

    before = masks()
    tracked.relabel(1, "circle")
    assert masks() == before
    tracked.set_mask(1, 3, np.pad(np.ones((4, 4), bool), ((0, 68), (0, 92))))
    assert masks() == before + 1
    tracked.merge(1, 2)
    assert masks() == before + 1
    assert set(tracked.segmentations(1)[t]["counts"] for t in range(8)) <= set(
        bytes(c).decode() for (c,) in tracked.db.query("SELECT counts FROM masks"))


def test_undo_is_not_limited(tracked):
    """No silent bound: every edit stays undoable (here 250 of them)."""
    for k in range(250):
        tracked.set_hidden(1, k % 2 == 0)
    assert len(tracked.undo_stack) == 251  # and the tracks themselves
    again = Session.open(tracked.folder.parents[1], BROWSER, tracked.meta.id)
    for _ in range(250):
        assert again.undo() is not None
    assert again.state.get(1).hidden is False and len(again.undo_stack) == 1


def test_ids_are_never_reused(tracked):
    tracked.split(2, 4)  # new #3
    tracked.delete(3)
    tracked.split(1, 4)
    assert 4 in tracked.state.tracks and 3 not in tracked.state.tracks  # 3 named a deleted object
    tracked.undo()
    tracked.undo()  # #3 is back, #4 gone: a new track takes neither id, also after a restart
    again = Session.open(tracked.folder.parents[1], BROWSER, tracked.meta.id)
    again.split(1, 4)
    assert sorted(again.state.tracks) == [1, 2, 3, 5]


def test_resume_refuses_unknown_sessions(tmp_path, session):
    with pytest.raises(ValueError, match="no longer exists"):
        Session.open(tmp_path / "work", BROWSER, "d" * 32)
    with pytest.raises(ValueError, match="not a valid id"):
        Session.open(tmp_path / "work", BROWSER, "../x")


def test_import_and_correct_with_no_model_at_all(tmp_path, tracked, video_file):
    """A YTVIS file exported from one session, imported onto the same video in
    a fresh session (no run, no model), then corrected."""
    from app import exports
    from app.session.imports import import_annotations

    path, _ = exports.export(tracked, "dataset")
    fresh = Session.create(tmp_path / "w2", BROWSER, [video_file], "again.mp4")
    proposal = import_annotations(fresh.state, fresh.meta, json.loads(path.read_text()), source="x.json")
    fresh.commit(proposal)
    assert [(tid, fresh.segmentations(tid)) for tid in fresh.state.tracks] == \
        [(tid, tracked.segmentations(tid)) for tid in tracked.state.tracks]
    assert all(t.origin == "imported" and t.query is None for t in fresh.state.tracks.values())
    fresh.relabel(2, "square")
    assert fresh.state.class_name(fresh.state.get(2).category_id) == "square"
    assert fresh.analysis is None


def test_supercategories_survive_the_session_export_and_import(tmp_path, session, video_file):
    """The session keeps the library's vocabulary format: a class's supercategory is
    stored, reopened from disk, exported, and read back by an import."""
    from app import exports
    from app.session.imports import import_annotations
    from clipvis.vocab import Vocabulary
    from tests.app.conftest import add_tracks, squares_masks

    add_tracks(session, squares_masks())
    vocab = Vocabulary.from_json([{"id": 1, "name": "square", "supercategory": "shape"}, {"id": 2, "name": "blob"}])
    session.commit(replace_vocabulary(session.state, vocab))
    reopened = Session.open(tmp_path / "work", BROWSER, session.meta.id)
    assert [c.supercategory for c in reopened.state.vocabulary.classes] == ["shape", None]
    path, _ = exports.export(reopened, "dataset")
    categories = json.loads(path.read_text())["categories"]
    assert [(c["name"], c["supercategory"]) for c in categories] == [("square", "shape"), ("blob", "object")]
    fresh = Session.create(tmp_path / "w2", BROWSER, [video_file], "again.mp4")
    fresh.commit(import_annotations(fresh.state, fresh.meta, json.loads(path.read_text()), source="x.json"))
    assert [c.supercategory for c in fresh.state.vocabulary.classes] == ["shape", "object"]


def replace_vocabulary(state, vocab):
    from app.session.operations import Proposal

    return Proposal({}, "new vocabulary", vocabulary=vocab)
