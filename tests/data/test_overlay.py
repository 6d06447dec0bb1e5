"""Overlay drawing (fast, exact colours) and the review video."""
from __future__ import annotations


import av
import numpy as np
import pytest

import clipvis.formats.overlay as overlay
from clipvis.formats.overlay import draw_overlay, export_overlay, instance_color, write_overlay_video
from clipvis.formats.rle import mask_to_rle
from clipvis.video import open_video
from tests.data.videogen import make_frames, write_cv2
from tests.data.ytvisgen import box, dataset


def test_blend_outline_and_rle_input():
    frame = np.full((10, 12, 3), 100, np.uint8)
    m = box(10, 12, 2, 2, 8, 8)
    out = draw_overlay(frame, [m], [(200, 0, 50)], alpha=0.5)
    assert out[5, 5].tolist() == [150, 50, 75]  # inside: half frame, half colour
    assert out[0, 0].tolist() == [100, 100, 100]  # outside untouched
    assert out[2, 7].tolist() == [200, 0, 50]  # right edge of the box: outline in full colour
    assert np.array_equal(draw_overlay(frame, [mask_to_rle(m)], [(200, 0, 50)]), out)
    assert np.array_equal(frame, np.full((10, 12, 3), 100, np.uint8))  # input not modified


def test_later_masks_on_top_and_labels():
    frame = np.zeros((40, 60, 3), np.uint8)
    a, b = box(40, 60, 0, 0, 40, 60), box(40, 60, 10, 10, 30, 30)
    out = draw_overlay(frame, [a, b, None], [(255, 0, 0), (0, 0, 255), (0, 255, 0)], alpha=1.0, outline=False)
    assert out[20, 20].tolist() == [0, 0, 255] and out[5, 50].tolist() == [255, 0, 0]
    labelled = draw_overlay(frame, [a, b], labels=["cat 0.91", None])
    assert labelled.shape == frame.shape and not np.array_equal(labelled, draw_overlay(frame, [a, b]))


def test_colours_are_deterministic_and_distinct():
    assert instance_color(7) == instance_color(7)
    assert len({instance_color(i) for i in range(1, 50)}) == 49


def test_wrong_mask_size():
    with pytest.raises(ValueError, match="mask is 5x5 but the frame is 12x10"):
        draw_overlay(np.zeros((10, 12, 3), np.uint8), [np.zeros((5, 5), bool)])


def test_720p_with_20_instances_colours_every_instance():
    # Speed of this case is measured in bench/bench_render.py (draw_overlay row), not here.
    rng = np.random.default_rng(0)
    frame = np.full((720, 1280, 3), 128, np.uint8)
    yy, xx = np.mgrid[:720, :1280]
    masks = [(yy - 80 - 140 * (k // 5)) ** 2 + (xx - 120 - 250 * (k % 5)) ** 2 < rng.integers(30, 60) ** 2
             for k in range(20)]
    out = draw_overlay(frame, masks, labels=[f"object {k} 0.87" for k in range(20)])
    assert out.shape == frame.shape
    for m in masks:  # every instance's interior is tinted; outside every mask stays as it was
        assert (out[m] != frame[m]).any(axis=1).mean() > 0.9
    outside = ~np.any(masks, axis=0)
    outside[:40] = False  # label boxes may be drawn above a mask
    assert (out[outside] == frame[outside]).all(axis=1).mean() > 0.9


def _codec(path):
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.name, s.codec_context.pix_fmt, s.frames


def test_mp4_is_h264_yuv420p_faststart_even_for_odd_sizes(tmp_path):
    frames = [np.full((481, 853, 3), 40 * i, np.uint8) for i in range(4)]
    out = write_overlay_video(tmp_path / "review.mp4", iter(frames), fps=6)
    assert out == tmp_path / "review.mp4"
    assert _codec(out) == ("h264", "yuv420p", 4)
    data = out.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # index first: plays while loading
    assert [p.name for p in tmp_path.iterdir()] == ["review.mp4"]


def test_webm_fallback_without_ffmpeg(tmp_path, monkeypatch):
    monkeypatch.setattr(overlay, "ffmpeg_exe", lambda: None)
    out = write_overlay_video(tmp_path / "review.mp4", make_frames(3), fps=5)
    assert out.suffix == ".webm" and _codec(out)[0] == "vp8"


def test_export_overlay_of_a_video_and_its_tracks(tmp_path):
    src = open_video(write_cv2(tmp_path / "clip.avi", make_frames(5)))
    ds = dataset([(48, 64, 5)], [(1, 1, [box(48, 64, 10, 10, 30, 30)] * 5, 0.8)])
    out = export_overlay(tmp_path / "overlay.mp4", src, ds.annotations, category_names={1: "dog"})
    back = open_video(out)
    assert back.info.num_frames == 5 and (back.info.width, back.info.height) == (64, 48)
    assert back.info.fps == pytest.approx(10)
    _, first = next(iter(back))
    # Tinted inside the box, plain outside.
    assert abs(int(first[20, 20].astype(int).sum()) - int(make_frames(1)[0][20, 20].astype(int).sum())) > 60
    assert abs(first[45, 60].astype(int) - make_frames(1)[0][45, 60]).max() < 10


def test_bad_video_input(tmp_path):
    with pytest.raises(ValueError, match="no frames"):
        write_overlay_video(tmp_path / "x.mp4", [], fps=5)
    with pytest.raises(ValueError, match="frame size changed"):
        write_overlay_video(tmp_path / "x.mp4", [np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4, 3), np.uint8)], fps=5)
    assert not list(tmp_path.iterdir())  # nothing half-written
