"""The work folder: settings check, restart, per-video files, broken files."""
from __future__ import annotations

import pytest

from clipvis.formats import Video, YTVISDataset
from clipvis.labeling import WorkFolder, WorkFolderError

SETTINGS = {"videos": "/data/clips", "stride": 1, "min_size": 480}


def _one_video_dataset():
    return YTVISDataset(videos=[Video(id=1, width=4, height=2, file_names=["v/0.jpg"])], categories=[])


def test_same_settings_resume_other_settings_are_refused(tmp_path):
    work = WorkFolder(tmp_path / "w")
    work.prepare(SETTINGS)
    work.save_done("k1", name="a.mp4", dataset=_one_video_dataset())
    work.prepare(dict(SETTINGS))
    assert work.is_done("k1")
    with pytest.raises(WorkFolderError, match=r"stride: 1 then, 2 now.*--restart"):
        work.prepare({**SETTINGS, "stride": 2})
    assert work.is_done("k1")  # a refusal loses nothing
    work.prepare({**SETTINGS, "stride": 2}, restart=True)
    assert not work.is_done("k1")


def test_a_folder_that_is_not_ours_is_refused(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(WorkFolderError, match="not a label work folder"):
        WorkFolder(tmp_path).prepare(SETTINGS)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_done_replaces_failed_and_round_trips(tmp_path):
    work = WorkFolder(tmp_path)
    work.prepare(SETTINGS)
    work.save_failed("k", name="a.mp4", reason="VideoDecodeError: broken")
    assert work.load_failed("k") == "VideoDecodeError: broken"
    work.save_done("k", name="a.mp4", dataset=_one_video_dataset(), note="ended early")
    assert work.load_failed("k") is None
    dataset, record = work.load_done("k")
    assert dataset.videos[0].file_names == ["v/0.jpg"] and record["note"] == "ended early"


def test_an_unreadable_work_file_is_moved_aside_for_relabelling(tmp_path):
    work = WorkFolder(tmp_path)
    work.prepare(SETTINGS)
    work.done_path("k").parent.mkdir(parents=True, exist_ok=True)
    work.done_path("k").write_text('{"format": "clipvis-label-video/1", "dataset": {"videos": 3}')
    with pytest.raises(WorkFolderError, match="labels the video again"):
        work.load_done("k")
    assert not work.is_done("k") and work.done_path("k").with_suffix(".json.bad").exists()


def test_leftover_temporary_files_of_a_kill_are_cleared(tmp_path):
    work = WorkFolder(tmp_path)
    work.prepare(SETTINGS)
    debris = tmp_path / "videos" / ".k.json.abc123.json"
    debris.parent.mkdir(parents=True, exist_ok=True)
    debris.write_text("{")
    work.prepare(SETTINGS)
    assert not debris.exists()
