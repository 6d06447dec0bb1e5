"""Every input is bounded (issue 15): each of the probe's inputs gets a sentence,
and handling it costs bounded memory (peak RSS of a fresh process above its idle
RSS). bench/bench_inputs.py prints the same measurements as a table."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

from bench.probe_inputs import big_png, fifo, make_probes, measure, zip_of_padded_jpegs
from clipvis.commands import main
from clipvis.formats.rle import RLEError, check_rle
from clipvis.labeling import label_dataset
from clipvis.paths import NotARegularFile
from clipvis.video import FrameTooLarge, VideoDecodeError, VideoLimits, open_video
from clipvis.vocab import parse_vocabulary_text
from tests.conftest import REPO, moving_squares_video
from tests.label.conftest import write_avi

# What each probe input must say, and the most it may cost: refusals are decided from
# headers, so they cost next to nothing; the bound for the server is 2 GB.
EXPECTED = {
    "zip: 2 JPEGs + 2 GiB zeros each": ("unpacks to 2,048 MB; a frame file may take at most 256 MB", 64),
    "PNG 12000x12000": ("12000x12000 pixels (144 MP) is larger than this tool reads (8192x8192", 64),
    "PNG 16000x16000": ("256 MP is larger than this tool reads (8192x8192", 64),
    "zip: 10,000 tiny frames": (None, 256),
}


@pytest.fixture(scope="module")
def probes(tmp_path_factory):
    return make_probes(tmp_path_factory.mktemp("probes"))


@pytest.mark.parametrize("how", ["read", "studio"])
def test_each_probe_input_gets_a_sentence_and_bounded_memory(probes, how, tmp_path):
    results = measure(list(probes.values()), how, workdir=tmp_path / "work")
    assert len(results) == len(probes)
    for (name, (sentence, bound_mb)), r in zip(EXPECTED.items(), results):
        assert r["peak_above_idle_mb"] < bound_mb, (how, name, r)
        if sentence:
            assert sentence in r["message"], (how, name, r["message"])
            assert "Error:" not in r["message"] or r["message"].startswith("FrameTooLarge:"), r["message"]
    tiny = results[-1]["message"]
    if how == "read":
        assert tiny == "read 10000 frames"  # 10,000 frames are a long video, not an attack
    else:
        assert "10000 frames" in tiny and "at most 2000" in tiny  # the studio's own frame limit


def test_large_frames_within_the_limit_are_shrunk_once_on_load(tmp_path):
    path = big_png(tmp_path / "big.png", 8000)
    (r,) = measure([path], "read", workdir=tmp_path / "work")
    assert r["message"] == "read 1 frames" and r["peak_above_idle_mb"] < 600  # 192 MB decoded, then 44 MB
    from clipvis.video import open_frames
    video = open_frames([path])
    assert (video.info.width, video.info.out_width, video.info.out_height) == (8000, 3840, 3840)
    (_, frame), = list(video)
    assert frame.shape == (3840, 3840, 3)


def test_limits_are_settings(tmp_path):
    (tmp_path / "f").mkdir()
    path = big_png(tmp_path / "f" / "00000.png", 1200)
    video = open_video(path.parent, limits=VideoLimits(max_side=600))
    assert (video.info.out_width, video.info.out_height) == (600, 600)
    assert next(iter(video))[1].shape == (600, 600, 3)
    with pytest.raises(FrameTooLarge, match="1200x1200"):
        open_video(path.parent, limits=VideoLimits(max_pixels=1000 * 1000))
    with pytest.raises(ValueError, match="max_side"):
        VideoLimits(max_side=0)


def test_zip_member_lying_about_its_size_is_refused(tmp_path):
    """A member that holds more than its header declares is read no further than
    declared, and then fails its checksum: a sentence, at open."""
    import cv2
    ok, jpeg = cv2.imencode(".jpg", np.full((48, 64, 3), 100, np.uint8))
    path = tmp_path / "liar.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("v/00000.jpg", jpeg.tobytes())
        zf.writestr("v/00001.jpg", jpeg.tobytes() + bytes(5000))
    data = bytearray(path.read_bytes())
    # Declare the second member 5000 bytes shorter (local header and central directory).
    real = len(jpeg.tobytes()) + 5000
    old, new = real.to_bytes(4, "little"), (real - 5000).to_bytes(4, "little")
    assert data.count(old) == 2
    path.write_bytes(bytes(data).replace(old, new))
    with pytest.raises(VideoDecodeError, match=r"v/00001.jpg: cannot be read from the zip \(Bad CRC-32"):
        open_video(path)


def test_zip_bomb_by_ratio_and_by_entries(tmp_path):
    path = zip_of_padded_jpegs(tmp_path / "small_pad.zip", frames=1, pad=64 * 2**20)
    with pytest.raises(FrameTooLarge, match="times larger than it is stored"):
        open_video(path)  # 64 MB, below the size cap, but 1000x its stored size
    with pytest.raises(FrameTooLarge, match="3 entries; at most 2"):
        many = tmp_path / "many.zip"
        with zipfile.ZipFile(many, "w") as zf:
            for i in range(3):
                zf.writestr(f"v/{i}.jpg", b"x")
        open_video(many, limits=VideoLimits(zip_members=2))


def test_fifo_is_refused_not_waited_on(tmp_path, capsys):
    pipe = fifo(tmp_path / "clip.mp4")
    with pytest.raises(NotARegularFile, match="FIFO"):
        open_video(pipe)
    code = main(["predict", "--video", str(pipe), "--vocab", "person", "--model", "demo",
                 "--out", str(tmp_path / "r.json")])
    assert code == 1 and "is a FIFO (named pipe), not a file; give a video file or folder" in capsys.readouterr().err


def test_label_lists_a_fifo_as_failed(tmp_path, tiny_predictor):
    videos = tmp_path / "videos"
    videos.mkdir()
    write_avi(videos / "real.avi", moving_squares_video(3, 48, 64))
    fifo(videos / "stuck.mp4")
    out, result = tmp_path / "labels.json", {}

    def label():
        result["summary"] = label_dataset(videos=videos, vocabulary=parse_vocabulary_text("thing"), out=out,
                                          make_predictor=lambda device: tiny_predictor, log=lambda *_: None)

    worker = threading.Thread(target=label, daemon=True)  # a FIFO opened for reading would block it forever
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "labelling hangs on the FIFO"
    summary = result["summary"]
    assert summary.done == ["real.avi"] and [name for name, _ in summary.failed] == ["stuck.mp4"]
    assert "NotARegularFile" in summary.failed[0][1] and "FIFO" in summary.failed[0][1]
    assert len(json.loads(out.read_text())["videos"]) == 1


@pytest.mark.parametrize("out_kind, message", [
    ("folder", "is a folder; give the name of the file"),
    ("under_a_file", "is a file, so no folder can be made there"),
])
def test_out_is_checked_before_any_work(tmp_path, out_kind, message, capsys):
    (tmp_path / "a_file").write_text("x")
    out = tmp_path if out_kind == "folder" else tmp_path / "a_file" / "r.json"
    code = main(["predict", "--video", str(tmp_path / "missing.mp4"), "--vocab", "person", "--model", "demo",
                 "--out", str(out)])
    err = capsys.readouterr().err
    # The output is refused first: before the (missing) video is even looked at.
    assert code == 1 and "--out" in err and message in err, err
    assert "missing.mp4" not in err


def test_rle_counts_beyond_32_bits_are_a_sentence():
    with pytest.raises(RLEError, match="non-negative integers up to 4294967295, got 4294967296"):
        check_rle({"size": [2, 2], "counts": [2**32, 4]}, 2, 2)
    with pytest.raises(RLEError, match="non-negative integers up to"):
        check_rle({"size": [2, 2], "counts": [2**70, 4]}, 2, 2)  # numpy would raise OverflowError


def test_huge_rle_is_refused_before_pycocotools(tmp_path):
    """A 60000x60000 mask (3.6e9 pixels): validated from its size, in bounded memory."""
    n = 60000 * 60000
    ds = {"videos": [{"id": 1, "width": 60000, "height": 60000, "length": 1, "file_names": ["v/0.jpg"]}],
          "categories": [{"id": 1, "name": "thing"}],
          "annotations": [{"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0,
                           "segmentations": [{"size": [60000, 60000], "counts": [n - 10, 10]}]}]}
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(ds))
    # Peak RSS from VmHWM: getrusage's ru_maxrss would carry the parent's peak across exec.
    code = ("import sys\n"
            "from bench.probe_inputs import status_mb\n"
            "from clipvis.evaluate import main\n"
            "rc = main(['--gt', sys.argv[1], '--pred', sys.argv[1]])\n"
            "print('peak_mb', int(status_mb('VmHWM')))\n"
            "sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "60000x60000 pixels (3,600 MP) is larger than this tool reads (8192x8192)" in proc.stderr
    assert int(proc.stdout.split("peak_mb")[-1]) < 400  # the whole process, imports included
    with pytest.raises(RLEError, match="larger than this tool reads"):
        check_rle({"size": [60000, 60000], "counts": [n - 10, 10]}, 60000, 60000)
