"""Frame folders (YTVIS JPEGImages/<video>/ layout) and zips of frames."""
from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest

from clipvis.video import VideoDecodeError, open_video
from tests.data.videogen import level, make_frames, mean_level


def write_folder(folder, frames, ext=".jpg", names=None):
    folder.mkdir(parents=True, exist_ok=True)
    names = names or [f"{i:05d}{ext}" for i in range(len(frames))]
    for name, f in zip(names, frames):
        assert cv2.imwrite(str(folder / name), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    return folder


def write_zip(path, members: dict):
    with zipfile.ZipFile(path, "w") as zf:
        for name, frame in members.items():
            ok, buf = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            zf.writestr(name, buf.tobytes())
    return path


@pytest.mark.parametrize("ext", [".jpg", ".png"])
def test_folder_of_frames(tmp_path, ext):
    folder = write_folder(tmp_path / "JPEGImages" / "vid7", make_frames(6), ext)
    (folder / "notes.txt").write_text("not a frame")
    src = open_video(folder, stride=2)
    assert src.info.kind == "folder" and src.info.num_frames == 3 and src.info.source_num_frames == 6
    assert (src.info.width, src.info.height) == (64, 48)
    assert src.file_names == [f"vid7/{i:05d}{ext}" for i in (0, 2, 4)]
    assert [round(mean_level(f)) for _, f in src] == pytest.approx([level(i) for i in (0, 2, 4)], abs=4)


def test_folder_natural_order(tmp_path):
    frames = make_frames(11)
    folder = write_folder(tmp_path / "v", frames, names=[f"frame{i}.png" for i in range(11)])
    src = open_video(folder)
    assert src.file_names[:3] == ["v/frame0.png", "v/frame1.png", "v/frame2.png"]
    assert src.file_names[-1] == "v/frame10.png"
    assert [mean_level(f) for _, f in src] == [level(i) for i in range(11)]


def test_zip_of_frames(tmp_path):
    frames = make_frames(4)
    path = write_zip(tmp_path / "clip.zip", {f"clip/{i:05d}.png": f for i, f in enumerate(frames)})
    src = open_video(path, max_frames=3)
    assert src.info.kind == "zip" and src.info.num_frames == 3
    assert src.file_names == [f"clip/{i:05d}.png" for i in range(3)]
    got = list(src)
    assert all(np.array_equal(f, frames[i]) for i, f in got)


def test_zip_with_frames_at_its_root_names_them_after_the_zip(tmp_path):
    path = write_zip(tmp_path / "walk.zip", {f"{i}.png": f for i, f in enumerate(make_frames(2))})
    assert open_video(path).file_names == ["walk/0.png", "walk/1.png"]


@pytest.mark.parametrize("member", ["../evil.png", "a/../../evil.png", "/abs/evil.png", "C:/evil.png"])
def test_zip_climbing_out_is_refused(tmp_path, member):
    members = {"ok/00000.png": make_frames(1)[0], member: make_frames(1)[0]}
    path = write_zip(tmp_path / "bad.zip", members)
    with pytest.raises(VideoDecodeError, match="climbs out"):
        open_video(path)


def test_mixed_sizes_name_the_odd_frame(tmp_path):
    folder = write_folder(tmp_path / "v", make_frames(3))
    cv2.imwrite(str(folder / "00003.jpg"), np.zeros((40, 64, 3), np.uint8))
    with pytest.raises(VideoDecodeError, match=r"00003\.jpg is 64x40 but 00000\.jpg is 64x48"):
        open_video(folder)


def test_zip_mixed_sizes_and_several_folders(tmp_path):
    small = np.zeros((10, 10, 3), np.uint8)
    with pytest.raises(VideoDecodeError, match="differ in size"):
        open_video(write_zip(tmp_path / "a.zip", {"v/0.png": make_frames(1)[0], "v/1.png": small}))
    with pytest.raises(VideoDecodeError, match="several folders"):
        open_video(write_zip(tmp_path / "b.zip", {"v/0.png": small, "w/0.png": small}))


def test_explicit_frame_list(tmp_path):
    folder = write_folder(tmp_path / "v", make_frames(4))
    from clipvis.video import open_frames

    paths = [folder / "00003.jpg", folder / "00001.jpg"]
    src = open_frames(paths, names=["v/00003.jpg", "v/00001.jpg"])
    assert src.file_names == ["v/00003.jpg", "v/00001.jpg"] and src.info.num_frames == 2
    assert [round(mean_level(f)) for _, f in src] == pytest.approx([level(3), level(1)], abs=4)
    with pytest.raises(VideoDecodeError, match="does not exist"):
        open_frames([folder / "nope.jpg"])
