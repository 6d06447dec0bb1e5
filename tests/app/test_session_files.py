"""Where a session's files live and how much room they may take; what the
page shows on opening; one frame count; messages without server paths."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from tests.app.conftest import BROWSER, plain, tab
from tests.data.videogen import make_frames, write_cv2

from app.callbacks import edit, files
from app.config import GRADIO_FILES, Studio, StudioConfig, keep_gradio_files_in, parse_args
from app.session import store

REPO = Path(__file__).resolve().parents[2]


def studio_at(workdir: Path, *flags) -> Studio:
    args = parse_args(["--workdir", str(workdir), *flags])
    return Studio(config=StudioConfig.from_args(args), service=None)


def load(studio, path, browser=BROWSER, **kw) -> dict:
    return files.load_video(studio, browser, str(path), None, None, 1, 0, 64, progress=lambda *a, **k: None, **kw)


def one_frame_short(path: Path, frames: int) -> Path:
    """An AVI whose header counts `frames` and that holds one frame less (its last frame cut)."""
    write_cv2(path, make_frames(frames))
    data = path.read_bytes()
    last = data.rfind(b"00dc", 0, data.rfind(b"idx1"))
    path.write_bytes(data[:last + 40])
    return path


def test_a_file_one_frame_short_of_its_header_loads_and_runs_with_one_count(tmp_path):
    path = one_frame_short(tmp_path / "clip.avi", 9)
    studio = studio_at(tmp_path, "--max-frames", "9")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = load(studio, path)
    session = out["view"].session
    assert session.meta.num_frames == 8
    info = out["video_info"]
    assert "8 frames (stride 1)" in info and "⚠️" not in info  # a quiet note, no alarm
    assert "header counts 9" in session.meta.note
    # The run reads the frames Load found, whatever the header says, within the limit.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert len(list(session.open_video())) == 8


def test_messages_name_the_users_file_never_a_server_path(tmp_path):
    bad = tmp_path / "holiday clip.mp4"
    bad.write_bytes(b"\x00" * 4096)
    studio = studio_at(tmp_path / "work")
    (tmp_path / "work").mkdir()
    message = plain(load(studio, bad)["message"])
    assert "holiday clip.mp4" in message
    for secret in (str(tmp_path), BROWSER, "/source", "Errno 1"):
        assert secret not in message, message


def test_opening_the_page_resumes_the_browsers_last_session(tmp_path, video_file):
    (tmp_path / "work").mkdir()
    studio = studio_at(tmp_path / "work")
    first = load(studio, video_file)["view"].session
    time.sleep(0.01)
    second = load(studio, video_file)["view"].session
    assert first.meta.updated < second.meta.updated
    page = files.init_browser(studio, BROWSER)
    assert page["view"].session is second and page["browser"] == BROWSER
    assert page["message"].startswith("Resumed") and "1 other session" in page["message"]
    # A new browser has nothing to resume.
    fresh = files.init_browser(studio, None)
    assert fresh["view"].session is None and fresh["browser"] != BROWSER


def test_the_sessions_list_is_current_after_an_edit(studio, tracked):
    out = edit.split(studio, tab(tracked, selected=1), {"frame": 4})
    assert "Split #1" in plain(out["message"])
    (label, sid), = out["sessions"]["choices"]
    assert sid == tracked.meta.id and "· 3 tracks ·" in label


def test_deleting_a_session_removes_all_its_files(tmp_path, video_file):
    (tmp_path / "work").mkdir()
    studio = studio_at(tmp_path / "work")
    loaded = load(studio, video_file)
    session = loaded["view"].session
    session.analyses.folder.mkdir()  # a stored analysis and an export, as after a run
    (session.analyses.folder / "run-1.safetensors").write_bytes(b"x" * 100)
    (session.folder / "exports" / "dataset").mkdir(parents=True)
    other = load(studio, video_file)["view"].session
    asked = files.delete_session(studio, BROWSER, session.meta.id, loaded["view"])  # the first press asks
    assert session.folder.exists() and asked["delete_pending"] == session.meta.id
    assert "press the red button again" in plain(asked["message"])
    assert "Deleted" not in plain(files.delete_session(studio, BROWSER, other.meta.id, loaded["view"],
                                                       session.meta.id)["message"])  # another session: asks
    out = files.delete_session(studio, BROWSER, session.meta.id, loaded["view"], asked["delete_pending"])
    assert not session.folder.exists() and other.folder.exists()
    assert [sid for _, sid in out["sessions"]["choices"]] == [other.meta.id]
    assert out["sessions"]["value"] is None  # nothing preselected for a second press to delete
    assert out["view"].session is None and out["video_info"] == ""  # the tab that showed it shows nothing
    assert "Deleted my ..video.mp4" in plain(out["message"]) and out["delete_pending"] is None
    assert "no longer exists" in files.resume(studio, BROWSER, session.meta.id)["message"]


def test_a_browser_over_its_quota_cannot_load_more(tmp_path, video_file):
    (tmp_path / "work").mkdir()
    size = video_file.stat().st_size
    assert "view" in load(studio_at(tmp_path / "work"), video_file)
    used = store.folder_bytes(store.browser_dir(tmp_path / "work", BROWSER))
    assert used > size  # the frames and the database count too
    studio = studio_at(tmp_path / "work", "--quota-gb", str((used + size / 2) / 1e9))
    refused = load(studio, video_file)
    assert "view" not in refused and len(store.list_sessions(tmp_path / "work", BROWSER)) == 1
    message = plain(refused["message"])
    assert message.startswith("⚠️ this browser's sessions take ")
    assert "KB of the" in message and "delete a session under Sessions" in message
    # Another browser has its own quota.
    assert "view" in load(studio, video_file, browser="c" * 32)


def test_uploads_and_downloads_live_in_the_work_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    old = tmp_path / GRADIO_FILES / "0ld"
    old.mkdir(parents=True)
    os.utime(old, (time.time() - 3 * 86400,) * 2)
    recent = tmp_path / GRADIO_FILES / "new"
    recent.mkdir()
    folder = keep_gradio_files_in(tmp_path)
    assert os.environ["GRADIO_TEMP_DIR"] == str(folder) == str(tmp_path / GRADIO_FILES)
    assert not old.exists() and recent.exists()  # Gradio's leftovers expire after a day
    import gradio as gr
    assert Path(gr.File().GRADIO_CACHE) == folder


@pytest.mark.parametrize("case", ["missing", "a file"])
def test_a_bad_workdir_stops_the_start_with_one_line(tmp_path, case):
    target = tmp_path / "work"
    if case == "a file":
        target.write_text("x")
    proc = subprocess.run([sys.executable, "app.py", "--workdir", str(target), "--port", "1"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--workdir" in lines[0] and "Traceback" not in proc.stderr
    assert ("does not exist" if case == "missing" else "is a file") in lines[0]


def test_exports_are_in_the_session_folder_and_hold_only_what_is_committed(studio, tracked, monkeypatch):
    from app import exports

    path, _ = exports.export(tracked, "dataset")
    assert path.parent == tracked.folder / "exports" / "dataset"
    # An edit that failed to commit never shows in an export.
    def fail():
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(tracked.db, "_commit", fail)
    assert "the disk is full" in plain(edit.delete(studio, tab(tracked, selected=2), None)["message"])
    import json
    data = json.loads(exports.export(tracked, "dataset")[0].read_text())
    assert sorted(a["id"] for a in data["annotations"]) == [1, 2]


def test_an_export_is_a_snapshot_of_one_revision(tracked):
    """An edit committed while an export streams does not mix into it."""
    from app import exports

    with exports.committed(tracked) as snap:
        tracked.delete(2)  # committed (by another handler) while the export streams
        assert [t.id for t in snap.tracks] == [1, 2]  # best first, as they were when it began
        assert snap.rle(snap.tracks[1], 3) is not None
    assert 2 not in tracked.state.tracks
    with exports.committed(tracked) as snap:
        assert [t.id for t in snap.tracks] == [1]


def test_an_unwritable_workdir_is_refused(tmp_path, monkeypatch):
    """As root a chmod does not stop a write, so the refusal is simulated where the check writes."""
    from app.config import WorkdirError, prepare_workdir

    def refuse(self, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "write_bytes", refuse)
    with pytest.raises(WorkdirError, match="is not writable"):
        prepare_workdir(parse_args(["--workdir", str(tmp_path)]))


def test_a_folder_of_frames_is_named_by_its_files_not_the_upload_folder(tmp_path):
    import cv2
    import numpy as np

    upload = tmp_path / ("a3" * 32)  # as Gradio stores a browser's files: a folder named by a hash
    upload.mkdir()
    for t in (2, 10, 1):
        cv2.imwrite(str(upload / f"img{t}.jpg"), np.full((24, 32, 3), 20 * t, np.uint8))
    (tmp_path / "work").mkdir()
    studio = studio_at(tmp_path / "work")
    out = files.load_video(studio, BROWSER, None, [str(p) for p in upload.iterdir()], None, 1, 0, 64,
                           progress=lambda *a, **k: None)
    assert out["view"].session.meta.original_name == "frames img1–img10"
    assert "a3a3" not in plain(out["message"]) + plain(out["video_info"])
