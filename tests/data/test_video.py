"""Reading video files: every container, options, rotation, laziness."""
from __future__ import annotations

import subprocess
import tracemalloc

import numpy as np
import pytest
from tests.data.videogen import FFMPEG, level, make_frames, mean_level, write_cv2, write_ffmpeg

from clipvis.video import open_video, resize_shortest_edge, resized_hw

FORMATS = {
    "avi-mjpg": ("clip.avi", lambda p, fr: write_cv2(p, fr, fourcc="MJPG")),
    "mp4-mp4v": ("clip.mp4", lambda p, fr: write_cv2(p, fr, fourcc="mp4v")),
    "webm-vp8": ("clip.webm", lambda p, fr: write_cv2(p, fr, fourcc="VP80")),
    "mp4-h264": ("clip.mp4", write_ffmpeg),
    "mov-h264": ("clip.mov", write_ffmpeg),
    "mkv-h264": ("clip.mkv", write_ffmpeg),
    "gif": ("clip.gif", lambda p, fr: write_ffmpeg(p, fr, args=())),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_container_decodes_in_order(tmp_path, fmt):
    name, writer = FORMATS[fmt]
    path = writer(tmp_path / name, make_frames(8))
    src = open_video(path)
    info = src.info
    assert (info.width, info.height, info.num_frames, info.kind) == (64, 48, 8, "file")
    assert info.fps == pytest.approx(10, rel=0.01)
    frames = list(src)
    assert [i for i, _ in frames] == list(range(8))
    for i, f in frames:
        assert f.dtype == np.uint8 and f.shape == (48, 64, 3)
        assert abs(mean_level(f) - level(i)) < 8, (fmt, i, mean_level(f))
    assert src.stopped_at is None and src.warning is None
    assert src.file_names == [f"clip/{i:05d}.jpg" for i in range(8)]


def test_odd_size(tmp_path):
    # 4:4:4 chroma: 4:2:0 coders cannot store odd sides at all.
    path = write_ffmpeg(tmp_path / "odd.mp4", make_frames(3, h=481, w=853),
                        args=("-c:v", "libx264", "-pix_fmt", "yuv444p"))
    src = open_video(path, resize=(480, 1333))
    assert (src.info.height, src.info.width) == (481, 853)
    assert (src.info.out_height, src.info.out_width) == resized_hw(481, 853, 480, 1333) == (480, 851)
    assert all(f.shape == (480, 851, 3) for _, f in src)


def test_rotation_metadata_is_honoured(tmp_path):
    plain = write_ffmpeg(tmp_path / "plain.mp4", make_frames(4))
    rotated = tmp_path / "rot.mp4"
    subprocess.run([FFMPEG, "-y", "-loglevel", "error", "-display_rotation", "90", "-i", str(plain),
                    "-c", "copy", str(rotated)], check=True)
    src = open_video(rotated)
    assert (src.info.width, src.info.height) == (48, 64)  # portrait after rotation
    ref = [f for _, f in open_video(plain)]
    for i, f in src:
        assert f.shape == (64, 48, 3)
        # Counter-clockwise 90 degrees: the white square moves to the bottom-left.
        assert np.abs(f.astype(int) - np.rot90(ref[i]).astype(int)).mean() < 3


@pytest.mark.parametrize("opts, expected_sources", [
    ({"stride": 3}, [0, 3, 6, 9]),
    ({"max_frames": 4}, [0, 1, 2, 3]),
    ({"stride": 2, "max_frames": 3}, [0, 2, 4]),
    ({"start_time": 0.25}, [3, 4, 5, 6, 7, 8, 9]),  # frame 3 is the first at t >= 0.25 s
    ({"start_time": 0.2, "end_time": 0.5}, [2, 3, 4]),
    ({"start_time": 0.1, "end_time": 0.9, "stride": 3}, [1, 4, 7]),
])
def test_frame_selection(avi, opts, expected_sources):
    src = open_video(avi, **opts)
    got = [(i, src.source_index(i), round(mean_level(f))) for i, f in src]
    assert src.info.num_frames == len(expected_sources)
    assert [g[1] for g in got] == expected_sources
    assert [g[0] for g in got] == list(range(len(expected_sources)))
    assert all(abs(g[2] - level(s)) < 8 for g, s in zip(got, expected_sources))
    assert src.file_names == [f"clip/{s:05d}.jpg" for s in expected_sources]


@pytest.mark.parametrize("hw, sizes, expected", [
    ((240, 320), (200, 1333), (200, 267)),
    ((480, 640), (480, 1333), (480, 640)),
    ((1080, 1920), (480, 1333), (480, 853)),
    ((320, 240), (200, 1333), (267, 200)),
    ((100, 2000), (480, 1333), (67, 1333)),  # the long side caps the scale
    ((481, 853), (480, 1333), (480, 851)),
    ((500, 500), (480, 1333), (480, 480)),
])
def test_resized_hw_follows_resize_shortest_edge(hw, sizes, expected):
    assert resized_hw(*hw, *sizes) == expected


def test_resize_uses_pil_bilinear():
    from PIL import Image

    frame = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    out = resize_shortest_edge(frame, 200, 1333)
    assert out.shape == (200, 267, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.asarray(Image.fromarray(frame).resize((267, 200), Image.BILINEAR)))


def test_info_before_decoding_and_lazy_iteration(tmp_path):
    n, h, w = 60, 240, 320
    path = write_cv2(tmp_path / "long.avi", make_frames(1, h, w) * n)
    tracemalloc.start()
    src = open_video(path)
    assert src.info.num_frames == n and src.info.duration == pytest.approx(n / 10)
    count = sum(1 for _ in src)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert count == n
    assert peak < 8 * h * w * 3, f"peak {peak} bytes: frames are being held"


def test_pyav_fallback_when_opencv_cannot_open(avi, monkeypatch):
    import clipvis.video.files as files

    class Closed:
        def __init__(self, *a, **k): pass
        def isOpened(self): return False
        def release(self): pass

    monkeypatch.setattr(files.cv2, "VideoCapture", Closed)
    src = open_video(avi, stride=2)
    assert src.info.backend == "pyav" and src.info.num_frames == 5
    got = [(src.source_index(i), mean_level(f)) for i, f in src]
    assert [s for s, _ in got] == [0, 2, 4, 6, 8]
    assert all(abs(m - level(s)) < 8 for s, m in got)


def test_start_time_lands_on_the_exact_frame_between_key_frames(tmp_path):
    frames = [np.full((32, 32, 3), 4 * i, np.uint8) for i in range(60)]
    path = write_ffmpeg(tmp_path / "gop.mp4", frames, fps=30,
                        args=("-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-bf", "2"))
    src = open_video(path, start_time=1.1, max_frames=4, stride=2)  # frame 33 is not a key frame
    got = [(src.source_index(i), float(f.mean())) for i, f in src]
    assert [g[0] for g in got] == [33, 35, 37, 39]
    assert all(abs(m - 4 * s) < 3 for s, m in got)
