"""A sub-folder that cannot be read is labelled as failed, with the reason: in
the counts, the failed list and summary.json, never silently left out (issue 15)."""
from __future__ import annotations

import errno
import json
import os

import pytest

from clipvis.labeling import discover_videos, label_dataset
from clipvis.vocab import parse_vocabulary_text
from tests.conftest import moving_squares_video
from tests.label.conftest import write_avi, write_frames


def dataset(tmp_path):
    root = tmp_path / "videos"
    root.mkdir()
    write_avi(root / "a.avi", moving_squares_video(4, 48, 64))
    write_frames(root / "locked", moving_squares_video(3, 48, 64))
    return root, root / "locked"


@pytest.fixture
def unreadable(monkeypatch):
    """Make folders unreadable as for a user without permission (the tests run as root,
    whom permissions do not stop): listing them fails with EACCES."""
    locked = set()
    real_scandir, real_listdir = os.scandir, os.listdir

    def refuse(real):
        def listing(path="."):
            if os.path.abspath(os.fspath(path)) in locked:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real(path)
        return listing

    monkeypatch.setattr(os, "scandir", refuse(real_scandir))
    monkeypatch.setattr(os, "listdir", refuse(real_listdir))
    return lambda path: locked.add(os.path.abspath(path))


def test_unreadable_sub_folder_is_a_job(tmp_path, unreadable):
    root, locked = dataset(tmp_path)
    unreadable(locked)
    jobs, _ = discover_videos(root)
    assert [(j.name, j.kind) for j in jobs] == [("a.avi", "file"), ("locked", "folder")]


def test_unreadable_root_is_a_clear_error(tmp_path, unreadable):
    root, _ = dataset(tmp_path)
    unreadable(root)
    with pytest.raises(ValueError, match="cannot be read"):
        discover_videos(root)


def test_labelling_lists_it_as_failed(tmp_path, unreadable, tiny_predictor):
    root, locked = dataset(tmp_path)
    unreadable(locked)
    out = tmp_path / "labels.json"
    summary = label_dataset(videos=root, vocabulary=parse_vocabulary_text("square"), out=out,
                            make_predictor=lambda device: tiny_predictor, log=lambda *_: None)
    assert summary.done == ["a.avi"]
    assert [name for name, _ in summary.failed] == ["locked"]
    assert "cannot be read" in summary.failed[0][1] and "Permission denied" in summary.failed[0][1]
    assert "1 failed" in summary.lines()[0]
    recorded = json.loads((tmp_path / "labels.json.work" / "summary.json").read_text())
    assert recorded["failed"][0][0] == "locked"
    assert len(json.loads(out.read_text())["videos"]) == 1
