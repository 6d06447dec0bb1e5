"""`predict` chooses video_id as `label` does, and says which and why."""
from __future__ import annotations

import json

import pytest

from clipvis.commands import main
from tests.conftest import moving_squares_video
from tests.label.conftest import write_frames


@pytest.fixture(scope="module")
def dataset_json(tmp_path_factory):
    root = tmp_path_factory.mktemp("ytvis")
    for name in ("aa11", "bb22"):
        write_frames(root / "valid" / "JPEGImages" / name, moving_squares_video(3, 48, 64, seed=len(name)))
    videos = [{"id": vid, "width": 64, "height": 48, "length": 3,
               "file_names": [f"{name}/{t * 5:05d}.jpg" for t in range(3)]}
              for vid, name in ((17, "aa11"), (42, "bb22"))]
    path = root / "valid.json"
    path.write_text(json.dumps({"videos": videos, "categories": [], "annotations": []}))
    return path


@pytest.mark.parametrize("extra, video_id, why", [
    ([], 1, "label numbers a single video 1"),
    (["--dataset", "__JSON__"], 42, "the id of bb22 in"),
    (["--dataset", "__JSON__", "--video-id", "5"], 5, "given with --video-id"),
])
def test_video_id(dataset_json, model_flags, tmp_path, capsys, extra, video_id, why):
    frames = dataset_json.parent / "valid" / "JPEGImages" / "bb22"
    out = tmp_path / "r.json"
    extra = [str(dataset_json) if a == "__JSON__" else a for a in extra]
    assert main(["predict", "--frames", str(frames), "--vocab", "person, car", "--out", str(out), *extra,
                 *model_flags]) == 0
    err = capsys.readouterr().err
    assert f"video_id {video_id} ({why}" in err
    results = json.loads(out.read_text())
    assert results and {r["video_id"] for r in results} == {video_id}


def test_a_video_the_dataset_does_not_list_is_a_clear_error(dataset_json, model_flags, tmp_path, capsys):
    other = write_frames(tmp_path / "cc33", moving_squares_video(2, 48, 64))
    assert other
    code = main(["predict", "--frames", str(tmp_path / "cc33"), "--vocab", "person", "--out",
                 str(tmp_path / "r.json"), "--dataset", str(dataset_json), *model_flags])
    assert code == 1
    assert "lists no video whose frames are in a folder named 'cc33'; give --video-id" in capsys.readouterr().err
