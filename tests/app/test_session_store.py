"""Sessions on disk: uploads, limits, listing, atomic saves and crash recovery."""
from __future__ import annotations

import json
import shutil
import zipfile

import cv2
import numpy as np
import pytest

from tests.app.conftest import BROWSER, snapshot
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
    tracked.relabel(1, "circle")
    tracked.delete(2)
    ann = json.loads((tracked.folder / "annotations.json").read_text())
    assert [a["id"] for a in ann["annotations"]] == [1]
    assert {c["name"] for c in ann["categories"]} >= {"circle"}
    sess = json.loads((tracked.folder / "session.json").read_text())
    assert sess["revision"] == ann["info"]["studio_revision"] == tracked.revision
    assert not list(tracked.folder.glob(".*tmp"))  # no temp files left by the atomic writes


@pytest.mark.parametrize("action", ["do", "undo", "redo"])
def test_a_crash_between_the_two_writes_loses_nothing(tracked, action):
    """session.json is written first: if annotations.json is one revision
    behind (the process died in between), loading replays the step."""
    if action != "do":
        tracked.split(1, 4)
    if action == "redo":
        tracked.undo()
    stale = tracked.folder / "stale.json"
    shutil.copyfile(tracked.folder / "annotations.json", stale)
    {"do": lambda: tracked.merge(1, 2), "undo": tracked.undo, "redo": tracked.redo}[action]()
    expected = snapshot(tracked)
    shutil.copyfile(stale, tracked.folder / "annotations.json")  # as if killed before the second write
    again = Session.open(tracked.folder.parents[1], BROWSER, tracked.meta.id)
    assert snapshot(again) == expected


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
    assert [(t.id, t.segmentations) for t in fresh.state.tracks.values()] == \
        [(t.id, t.segmentations) for t in tracked.state.tracks.values()]
    assert all(t.origin == "imported" and t.query is None for t in fresh.state.tracks.values())
    fresh.relabel(2, "square")
    assert fresh.state.class_name(fresh.state.get(2).category_id) == "square"
    assert fresh.analysis is None
