"""Finding the videos of the three layouts, with stable ids, keys and frame names."""
from __future__ import annotations

import json
import re

import pytest

from clipvis.labeling import discover_videos
from clipvis.labeling.sources import count_frames, open_job, output_file_names
from tests.conftest import moving_squares_video
from tests.label.conftest import write_avi, write_frames


def test_folder_of_videos_is_searched_recursively_in_natural_order(tmp_path):
    for rel in ("b/clip10.avi", "b/clip2.avi", "a.avi", ".hidden.avi", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    jobs, description = discover_videos(tmp_path)
    assert [j.name for j in jobs] == ["a.avi", "b/clip2.avi", "b/clip10.avi"]
    assert [j.video_id for j in jobs] == [1, 2, 3]
    assert [j.prefix for j in jobs] == ["a.avi", "b/clip2.avi", "b/clip10.avi"]  # extension kept: unique
    assert "3 video files" in description


def test_keys_are_digests_not_user_names(tmp_path):
    (tmp_path / "we ird;name..avi").write_bytes(b"x")
    (tmp_path / "x.avi").write_bytes(b"x")
    jobs, _ = discover_videos(tmp_path)
    assert all(re.fullmatch(r"[0-9a-f]{20}", j.key) for j in jobs)
    assert len({j.key for j in jobs}) == 2
    # The same video keeps its key when others are added (resuming depends on it).
    (tmp_path / "0first.avi").write_bytes(b"x")
    again, _ = discover_videos(tmp_path)
    assert {j.name: j.key for j in again}["x.avi"] == {j.name: j.key for j in jobs}["x.avi"]


def test_jpegimages_layout_one_video_per_frame_folder(tmp_path):
    root = tmp_path / "JPEGImages"
    write_frames(root / "vid_b", moving_squares_video(3, 32, 48))
    write_frames(root / "vid_a", moving_squares_video(5, 32, 48))
    jobs, _ = discover_videos(root)
    assert [(j.name, j.kind, j.source_frames) for j in jobs] == [("vid_a", "folder", 5), ("vid_b", "folder", 3)]
    source = open_job(jobs[0], stride=2)
    assert output_file_names(jobs[0], source) == ["vid_a/00000.jpg", "vid_a/00010.jpg", "vid_a/00020.jpg"]
    assert count_frames(jobs[0], stride=2) == 3 and count_frames(jobs[1], max_frames=2) == 2


def test_video_file_frames_get_synthetic_names(tmp_path):
    write_avi(tmp_path / "clip.avi", moving_squares_video(5, 32, 48))
    jobs, _ = discover_videos(tmp_path)
    source = open_job(jobs[0], stride=2)
    assert output_file_names(jobs[0], source) == ["clip.avi/00000.jpg", "clip.avi/00002.jpg", "clip.avi/00004.jpg"]
    assert count_frames(jobs[0], stride=2) == 3


def _ytvis_json(tmp_path, videos):
    path = tmp_path / "valid.json"
    path.write_text(json.dumps({"videos": videos, "categories": [], "annotations": []}))
    return path


def test_ytvis_json_keeps_ids_and_reads_only_listed_frames(tmp_path):
    frames_root = tmp_path / "valid" / "JPEGImages"
    names = write_frames(frames_root / "v1", moving_squares_video(6, 32, 48))
    listed = [f"v1/{n}" for n in names[::2]]  # the folder holds more frames than the JSON lists
    path = _ytvis_json(tmp_path, [{"id": 7, "width": 48, "height": 32, "length": 3, "file_names": listed}])
    jobs, description = discover_videos(path)
    assert len(jobs) == 1 and jobs[0].video_id == 7 and jobs[0].size_hw == (32, 48)
    assert str(frames_root) in description
    source = open_job(jobs[0])
    assert output_file_names(jobs[0], source) == listed
    assert sum(1 for _ in source) == 3


def test_ytvis_json_without_frames_says_to_pass_frames_root(tmp_path):
    path = _ytvis_json(tmp_path, [{"id": 1, "width": 8, "height": 8, "file_names": ["v/0.jpg"]}])
    with pytest.raises(FileNotFoundError, match="--frames-root"):
        discover_videos(path)


def test_bad_paths_have_clear_messages(tmp_path):
    with pytest.raises(FileNotFoundError):
        discover_videos(tmp_path / "missing")
    with pytest.raises(ValueError, match="holds no videos"):
        discover_videos(tmp_path)
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(ValueError, match="give a folder of videos"):
        discover_videos(tmp_path / "a.txt")
    with pytest.raises(ValueError, match="only applies"):
        discover_videos(tmp_path, frames_root=tmp_path)
