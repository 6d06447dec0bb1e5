"""A file whose header promises more frames than it decodes (a cut
download, a truncated recording) is an ordinary video: it loads, runs and
exports with the frames it has, and says so quietly."""
from __future__ import annotations

import shutil

from tests.browser.studio_page import StudioPage


def test_a_clip_shorter_than_its_header_loads_and_runs(page, studio_url, tmp_path):
    from clipvis.formats.overlay import write_overlay_video
    from clipvis.video import open_video
    from tests.conftest import moving_squares_video

    whole = write_overlay_video(tmp_path / "whole.mp4", iter(moving_squares_video(12, h=120, w=160)), fps=5)
    cut = tmp_path / "cut short.mp4"
    shutil.copyfile(whole, cut)
    with open(cut, "r+b") as f:  # the tail of the last frames' data is gone; the header still says 12
        f.truncate(cut.stat().st_size - 600)
    video = open_video(cut)
    decoded = sum(1 for _ in video)
    assert video.info.num_frames == 12 and 0 < decoded < 12  # the file really is short of its header

    s = StudioPage(page, studio_url).open()
    s.upload(cut)
    s.load()
    status = s.run("red square, green square")
    assert "Run:" in status, status
    assert s.errors() == 0
    s.press("End")
    s.wait_painted(decoded - 1)
    data = s.export_json("dataset")
    assert data["videos"][0]["length"] == decoded
