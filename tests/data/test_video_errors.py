"""Bad input: a clear error before anything is used, or (truncation) the good
frames and a note of where decoding stopped."""
from __future__ import annotations

import cv2
import pytest

from clipvis.video import VideoDecodeError, VideoDecodeWarning, open_video
from tests.data.videogen import make_frames, write_cv2, write_ffmpeg


def text_as_mp4(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("this is not a video\n" * 50)
    return p


def zero_frames(tmp_path):
    p = tmp_path / "empty.avi"
    vw = cv2.VideoWriter(str(p), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    vw.release()
    return p


def mp4_cut_before_its_index(tmp_path):
    p = write_ffmpeg(tmp_path / "cut.mp4", make_frames(8))  # the moov index is written last
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return p


def single_image(tmp_path):
    p = tmp_path / "frame.png"
    cv2.imwrite(str(p), make_frames(1)[0])
    return p


def empty_folder(tmp_path):
    (tmp_path / "frames").mkdir()
    (tmp_path / "frames" / "readme.txt").write_text("no frames here")
    return tmp_path / "frames"


def not_a_zip(tmp_path):
    p = tmp_path / "frames.zip"
    p.write_bytes(b"PK but not really")
    return p


def broken_jpeg_in_folder(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    cv2.imwrite(str(folder / "00000.jpg"), make_frames(1)[0])
    (folder / "00001.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


@pytest.mark.parametrize("make, message", [
    (text_as_mp4, "cannot be read as a video"),
    (zero_frames, "contains no frames"),
    (mp4_cut_before_its_index, "cannot be read as a video"),
    (single_image, "is a single image"),
    (empty_folder, "holds no frames"),
    (not_a_zip, "not a zip file"),
    (broken_jpeg_in_folder, r"00001\.jpg: not a readable image"),
])
def test_bad_input_is_refused_with_a_reason(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(VideoDecodeError, match=message) as err:
        open_video(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("opts, message", [
    ({"stride": 0}, "stride"),
    ({"max_frames": 0}, "max_frames"),
    ({"start_time": -1}, "start_time"),
    ({"start_time": 0.5, "end_time": 0.2}, "end_time"),
    ({"start_time": 5.0}, "select no frame"),
    ({"resize": (480,)}, "resize"),
])
def test_bad_options(avi, opts, message):
    with pytest.raises(ValueError, match=message):
        open_video(avi, **opts)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        open_video(tmp_path / "nope.mp4")


def test_truncated_file_yields_good_frames_then_says_where_it_stopped(tmp_path):
    path = write_cv2(tmp_path / "cut.avi", make_frames(10))
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])
    src = open_video(path)
    assert src.info.num_frames == 10  # what the header promises
    with pytest.warns(VideoDecodeWarning, match="decoding stopped after"):
        got = [i for i, _ in src]
    assert 0 < len(got) < 10 and got == list(range(len(got)))
    assert src.stopped_at == len(got)
    assert "truncated or corrupt" in src.warning
    # A complete video leaves no trace.
    full = open_video(write_cv2(tmp_path / "ok.avi", make_frames(3)))
    assert len(list(full)) == 3 and full.stopped_at is None and full.warning is None
