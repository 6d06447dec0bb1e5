"""`label` writes what a trainer reads: frames in the YouTube-VIS layout next to
the JSON, one folder per video, read back by a YTVIS loader written here the
way the official `ytvos.py` and Mask2Former's `load_ytvis_json` read it."""
from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_util
import pytest

from clipvis.labeling import LabelOptions, label_dataset
from clipvis.vocab import load_vocabulary
from tests.conftest import moving_squares_video
from tests.data.videogen import write_ffmpeg
from tests.label.conftest import write_avi, write_frames

VOCAB = load_vocabulary("person, car, dog|puppy")


class YTVOS:
    """The index of the official YouTube-VIS API (ytvos.py), as it builds it."""

    def __init__(self, annotation_file):
        with open(annotation_file) as f:
            self.dataset = json.load(f)
        assert type(self.dataset) is dict
        self.anns, self.cats, self.vids = {}, {}, {}
        self.vid_to_anns, self.cat_to_vids = defaultdict(list), defaultdict(list)
        for ann in self.dataset["annotations"]:
            self.vid_to_anns[ann["video_id"]].append(ann)
            self.anns[ann["id"]] = ann
            self.cat_to_vids[ann["category_id"]].append(ann["video_id"])
        for vid in self.dataset["videos"]:
            self.vids[vid["id"]] = vid
        for cat in self.dataset["categories"]:
            self.cats[cat["id"]] = cat

    def get_cat_ids(self, sup_nms=()):
        cats = self.dataset["categories"]
        return [c["id"] for c in cats if not sup_nms or c["supercategory"] in sup_nms]  # KeyError without it


def load_ytvis(json_file, image_root):
    """Per video, what Mask2Former's load_ytvis_json gives a trainer: frame
    paths and, per frame, the objects with a box and a mask."""
    api = YTVOS(json_file)
    id_map = {cid: i for i, cid in enumerate(sorted(api.get_cat_ids()))}  # contiguous ids, as detectron2
    records = []
    for vid in sorted(api.vids):
        v = api.vids[vid]
        record = {"file_names": [os.path.join(image_root, n) for n in v["file_names"]], "height": v["height"],
                  "width": v["width"], "length": v["length"], "video_id": vid, "annotations": []}
        for t in range(v["length"]):
            objs = []
            for anno in api.vid_to_anns[vid]:
                bboxes, segm = anno.get("bboxes"), anno.get("segmentations")
                if not (bboxes and segm and bboxes[t] and segm[t]):
                    continue
                mask = mask_util.decode(segm[t])
                objs.append({"id": anno["id"], "bbox": bboxes[t], "mask": mask,
                             "category_id": id_map[anno["category_id"]]})
            record["annotations"].append(objs)
        records.append(record)
    return api, records


def _label(predictor, videos, out, **options):
    return label_dataset(videos=videos, vocabulary=VOCAB, out=out, make_predictor=lambda device: predictor,
                         options=LabelOptions(progress=False, **options), log=lambda text: None)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """a.mp4 and a.avi (same name, different sizes) and a third clip in a sub-folder."""
    folder = tmp_path_factory.mktemp("clips")
    write_ffmpeg(folder / "a.mp4", list(moving_squares_video(7, 64, 96, seed=1)))
    write_avi(folder / "a.avi", moving_squares_video(5, 48, 80, seed=2))
    (folder / "more").mkdir()
    write_avi(folder / "more" / "b.avi", moving_squares_video(6, 56, 72, seed=3))
    return folder


@pytest.fixture(scope="module")
def labelled(tiny_predictor, clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset") / "labels.json"
    summary = _label(tiny_predictor, clips, out)
    assert summary.ok and summary.frames_written == 3
    return out


def test_three_clips_two_named_alike_load_in_a_ytvis_loader(labelled):
    api, records = load_ytvis(labelled, labelled.parent / "JPEGImages")
    assert [(r["video_id"], r["length"], r["height"], r["width"]) for r in records] == [
        (1, 5, 48, 80), (2, 7, 64, 96), (3, 6, 56, 72)]  # a.avi, a.mp4, more/b.avi in natural order
    folders = [{os.path.dirname(f) for f in r["file_names"]} for r in records]
    assert all(len(f) == 1 for f in folders) and len(set.union(*folders)) == 3  # one folder each, none shared
    assert [api.vids[i]["file_names"][0] for i in (1, 2, 3)] == [
        "a.avi/00000.jpg", "a.mp4/00000.jpg", "more/b.avi/00000.jpg"]
    objects = 0
    for r in records:
        for path in r["file_names"]:
            image = cv2.imread(path)
            assert image is not None, f"{path} is missing"
            assert image.shape == (r["height"], r["width"], 3)  # the video's own size, on disk
        for objs in r["annotations"]:
            for obj in objs:
                objects += 1
                assert obj["mask"].shape == (r["height"], r["width"]) and obj["mask"].any()
                x, y, w, h = obj["bbox"]
                ys, xs = np.nonzero(obj["mask"])
                assert (x, y, w, h) == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert objects > 0
    # Every category has a supercategory (the official getCatIds(supNms=...) needs one).
    assert api.get_cat_ids(sup_nms=["object"]) == [1, 2, 3]


def test_frames_are_the_decoded_frames(labelled, clips):
    from clipvis.video import open_video

    root = labelled.parent / "JPEGImages"
    files = sorted((root / "more" / "b.avi").iterdir())
    decoded = list(open_video(clips / "more" / "b.avi"))
    assert [f.name for f in files] == [f"{i:05d}.jpg" for i in range(len(decoded))]
    for (_, frame), path in zip(decoded, files):
        _, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert path.read_bytes() == jpeg.tobytes()  # the very frame the model saw, as a quality-95 JPEG


def test_stride_frames_dir_and_no_frames(tiny_predictor, clips, tmp_path):
    frames = tmp_path / "elsewhere"
    _label(tiny_predictor, clips, tmp_path / "a" / "labels.json", stride=2, frames_dir=str(frames))
    videos = json.loads((tmp_path / "a" / "labels.json").read_text())["videos"]
    assert videos[1]["file_names"] == ["a.mp4/00000.jpg", "a.mp4/00002.jpg", "a.mp4/00004.jpg", "a.mp4/00006.jpg"]
    written = sorted(p.relative_to(frames).as_posix() for p in frames.rglob("*.jpg"))
    assert written == sorted(n for v in videos for n in v["file_names"])  # the stride's frames, no others
    assert not (tmp_path / "a" / "JPEGImages").exists()

    out = tmp_path / "b" / "labels.json"
    summary = _label(tiny_predictor, clips, out, frames=False)
    assert summary.ok and summary.frames_written == 0 and not (out.parent / "JPEGImages").exists()
    assert json.loads(out.read_text())["videos"][0]["file_names"][0] == "a.avi/00000.jpg"  # where they would be


def test_missing_frames_are_written_on_rerun_without_the_model(labelled, tmp_path):
    out = tmp_path / "labels.json"
    shutil.copytree(labelled.parent, tmp_path, dirs_exist_ok=True)
    root = tmp_path / "JPEGImages"
    before = {p: p.read_bytes() for p in root.rglob("*.jpg")}
    (root / "a.mp4" / "00003.jpg").unlink()
    shutil.rmtree(root / "more")

    def no_model(device):
        raise AssertionError("only frames are missing; the model must not be loaded")

    summary = label_dataset(videos=json.loads((tmp_path / "labels.json.work" / "run.json").read_text())
                            ["settings"]["videos"], vocabulary=VOCAB, out=out, make_predictor=no_model,
                            options=LabelOptions(progress=False), log=lambda text: None)
    assert summary.ok and summary.done == [] and summary.frames_written == 2
    assert {p: p.read_bytes() for p in root.rglob("*.jpg")} == before  # byte for byte
    assert out.read_bytes() == labelled.read_bytes()


def test_frame_folders_keep_pointing_at_their_frames(tiny_predictor, clips, tmp_path):
    videos = tmp_path / "in"
    shutil.copytree(clips, videos)
    names = write_frames(videos / "folder_video", moving_squares_video(4, 48, 64, seed=5))
    out = tmp_path / "out" / "labels.json"
    _label(tiny_predictor, videos, out)
    api, records = load_ytvis(out, out.parent / "JPEGImages")
    by_name = {v["name"]: v for v in api.dataset["videos"]}
    # One image root for all: the frames written for the files, and ../ to the folder's own frames.
    assert by_name["folder_video"]["file_names"][0] == f"../../in/folder_video/{names[0]}"
    assert not (out.parent / "JPEGImages" / "folder_video").exists()  # never copied
    for r in records:
        assert all(cv2.imread(p) is not None for p in r["file_names"])

    # A frames layout alone keeps its plain names (relative to --videos).
    only = tmp_path / "JPEGImages"
    write_frames(only / "v1", moving_squares_video(3, 48, 64, seed=6))
    _label(tiny_predictor, only, tmp_path / "pseudo.json")
    assert json.loads((tmp_path / "pseudo.json").read_text())["videos"][0]["file_names"][0] == "v1/00000.jpg"


def test_filters_categories_and_cocovid(labelled, tmp_path):
    from pycocotools.coco import COCO

    work = Path(f"{labelled}.work")
    full = json.loads(labelled.read_text())
    per_video = defaultdict(list)
    for a in full["annotations"]:
        per_video[a["video_id"]].append(a)

    def merge(out, **options):
        return label_dataset(videos=json.loads((work / "run.json").read_text())["settings"]["videos"],
                             vocabulary=VOCAB, out=out, make_predictor=None, work_dir=work,
                             options=LabelOptions(progress=False, **options), log=lambda text: None)

    lengths = sorted(sum(s is not None for s in a["segmentations"]) for a in full["annotations"])
    min_frames = lengths[len(lengths) // 2]
    summary = merge(tmp_path / "f.json", min_score=0.0, min_frames=min_frames, max_per_video=2, categories="used")
    got = json.loads((tmp_path / "f.json").read_text())
    expected = []
    for vid in sorted(per_video):
        long_enough = [a for a in per_video[vid] if sum(s is not None for s in a["segmentations"]) >= min_frames]
        expected += [(vid, a["score"]) for a in long_enough[:2]]
    assert [(a["video_id"], a["score"]) for a in got["annotations"]] == expected
    assert summary.filtered_out == len(full["annotations"]) - len(expected) > 0
    assert [c["id"] for c in got["categories"]] == sorted({a["category_id"] for a in got["annotations"]})

    merge(tmp_path / "c.json", output_format="cocovid")
    coco = COCO(str(tmp_path / "c.json"))
    assert len(coco.imgs) == sum(v["length"] for v in full["videos"])
    for ann in coco.loadAnns(coco.getAnnIds()):
        img = coco.imgs[ann["image_id"]]
        assert coco.annToMask(ann).shape == (img["height"], img["width"])
        assert os.path.isfile(labelled.parent / "JPEGImages" / img["file_name"])


def test_bad_filter_values_are_refused_before_any_work():
    for bad, message in ((dict(min_score=1.5), "min_score is a score between 0 and 1"),
                         (dict(min_frames=0), "min_frames must be >= 1"),
                         (dict(max_per_video=0), "max_per_video must be >= 1"),
                         (dict(categories="some"), "categories must be one of all, used")):
        with pytest.raises(ValueError, match=message):
            LabelOptions(**bad)


def test_the_filter_table_of_the_docs():
    from clipvis.formats import Annotation
    from clipvis.labeling.merge import Filters

    rows = [(0.9, 12), (0.6, 2), (0.4, 8), (0.35, 9), (0.1, 20)]  # docs/LABEL.md, "Filters"
    rle = {"size": [1, 1], "counts": "01"}
    anns = [Annotation(id=k, video_id=1, category_id=1, score=score, segmentations=[rle] * n + [None] * (20 - n))
            for k, (score, n) in enumerate(rows, start=1)]

    def kept(**f):
        return [(a.score, len(a.frames_present())) for a in Filters(**f).apply(anns)]

    assert kept() == rows
    assert kept(min_score=0.3) == rows[:4]
    assert kept(min_score=0.3, min_frames=5) == [rows[0], rows[2], rows[3]]
    assert kept(min_score=0.3, min_frames=5, max_per_video=2) == [rows[0], rows[2]]
