"""YTVIS dataset and results forms: exact fields, validation, round trips."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_api

from clipvis.formats import (
    YTVISDataset, YTVISError, dataset_to_results, merge_datasets, read_dataset, read_results,
    results_to_dataset, write_dataset, write_results,
)
from tests.data.ytvisgen import box, dataset


def two_videos():
    return dataset(
        [(20, 30, 3), (16, 16, 2)],
        [(1, 1, [box(20, 30, 2, 2, 8, 9), None, box(20, 30, 0, 0, 20, 30)], 0.9),
         (1, 2, [None, box(20, 30, 5, 5, 6, 6), None]),
         (2, 1, [box(16, 16, 1, 1, 4, 4), box(16, 16, 3, 3, 9, 9)], 0.4)])


def test_dataset_file_has_the_official_fields_and_types(tmp_path):
    path = write_dataset(tmp_path / "pseudo.json", two_videos())
    raw = json.loads(path.read_text())
    assert set(raw) == {"info", "licenses", "videos", "categories", "annotations"}
    v = raw["videos"][0]
    assert {k: type(v[k]) for k in ("id", "width", "height", "length", "file_names")} == {
        "id": int, "width": int, "height": int, "length": int, "file_names": list}
    assert v["length"] == len(v["file_names"]) == 3 and (v["height"], v["width"]) == (20, 30)
    a = raw["annotations"][0]
    assert set(a) == {"id", "video_id", "category_id", "segmentations", "areas", "bboxes", "iscrowd",
                      "height", "width", "length", "score"}
    assert "score" not in raw["annotations"][1]  # only where there is one
    assert a["segmentations"][1] is None and a["areas"][1] is None and a["bboxes"][1] is None
    seg = a["segmentations"][0]
    assert set(seg) == {"size", "counts"} and isinstance(seg["counts"], str) and seg["size"] == [20, 30]
    assert a["areas"] == [42, None, 600] and all(type(x) is int for x in a["areas"] if x is not None)
    assert a["bboxes"][0] == [2.0, 2.0, 7.0, 6.0]
    assert (a["iscrowd"], a["height"], a["width"], a["length"]) == (0, 20, 30, 3)
    # What a COCO-style loader does with it: pycocotools takes the RLE as stored.
    assert mask_api.area(seg) == 42 and mask_api.decode(seg).shape == (20, 30)


def test_dataset_round_trip(tmp_path):
    ds = two_videos()
    back = read_dataset(write_dataset(tmp_path / "d.json", ds))
    assert [v.to_json() for v in back.videos] == [v.to_json() for v in ds.videos]
    assert [(a.id, a.video_id, a.category_id, a.score) for a in back.annotations] == [
        (a.id, a.video_id, a.category_id, a.score) for a in ds.annotations]
    for a, b in zip(ds.annotations, back.annotations):
        assert a.segmentations == b.segmentations


def test_results_round_trip_and_conversion(tmp_path):
    ds = two_videos()
    path = write_results(tmp_path / "results.json", ds, default_score=1.0)
    raw = json.loads(path.read_text())
    assert [set(r) for r in raw] == [{"video_id", "category_id", "score", "segmentations", "bboxes"}] * 3
    assert [r["score"] for r in raw] == [0.9, 1.0, 0.4]
    assert raw[0]["bboxes"] == [[2.0, 2.0, 7.0, 6.0], None, [0.0, 0.0, 30.0, 20.0]]  # null where absent
    res = read_results(path, videos=ds, categories=ds.categories)
    assert [a.bboxes for a in res] == [r["bboxes"] for r in raw]
    assert [a.id for a in res] == [1, 2, 3]  # ids as the official loadRes gives them
    assert [a.segmentations for a in res] == [a.segmentations for a in ds.annotations]
    back = results_to_dataset(res, videos=ds.videos, categories=ds.categories)
    assert dataset_to_results(back) == raw


def test_an_empty_mask_is_an_absent_frame_everywhere(tmp_path):
    empty = np.zeros((20, 30), bool)
    ds = dataset([(20, 30, 3)], [(1, 1, [box(20, 30, 2, 2, 8, 9), empty, None], 0.5)])
    a = ds.annotations[0]
    assert a.segmentations[1] is None and a.segmentations[2] is None
    raw = json.loads(write_dataset(tmp_path / "d.json", ds).read_text())["annotations"][0]
    assert raw["segmentations"][1:] == raw["areas"][1:] == raw["bboxes"][1:] == [None, None]
    res = json.loads(write_results(tmp_path / "r.json", ds).read_text())[0]
    assert res["segmentations"][1:] == res["bboxes"][1:] == [None, None]


def test_results_boxes_are_checked_when_read(tmp_path):
    raw = json.loads(write_results(tmp_path / "r.json", two_videos(), default_score=1.0).read_text())
    raw[0]["bboxes"][0] = [1, 2, 3]
    (tmp_path / "bad.json").write_text(json.dumps(raw))
    with pytest.raises(YTVISError, match=r"result #0, field 'bboxes'\[0\]: must be \[x, y, w, h\] or null"):
        read_results(tmp_path / "bad.json", videos=two_videos())


def test_video_entry_from_an_opened_video(avi):
    from clipvis.formats import Video
    from clipvis.video import open_video

    v = Video.from_source(open_video(avi, stride=4, resize=(24, 100)), id=3, name="clip")
    assert v.to_json() == {"id": 3, "width": 64, "height": 48, "length": 3, "name": "clip",
                           "file_names": ["clip/00000.jpg", "clip/00004.jpg", "clip/00008.jpg"]}


def test_results_need_a_score(tmp_path):
    with pytest.raises(YTVISError, match="annotation 2 .* has no score"):
        write_results(tmp_path / "r.json", two_videos())


def test_reads_the_shared_uncompressed_form():
    raw = {"videos": [{"id": 5, "width": 3, "height": 2, "length": 1, "file_names": ["a/0.jpg"]}],
           "categories": [{"id": 1, "name": "x", "supercategory": "y"}],
           "annotations": [{"id": 1, "video_id": 5, "category_id": 1, "iscrowd": 0,
                            "segmentations": [{"size": [2, 3], "counts": [1, 2, 3]}], "areas": [2.0]}]}
    ds = YTVISDataset.from_json(raw)
    seg = ds.annotations[0].segmentations[0]
    assert isinstance(seg["counts"], str)
    assert ds.annotations[0].mask(0).tolist() == [[False, True, False], [True, False, False]]
    assert ds.categories[0].to_json() == {"id": 1, "name": "x", "supercategory": "y"}
    assert ds.to_json()["annotations"][0]["areas"] == [2.0]  # the file's areas are kept


def _base():
    return two_videos().to_json()


def _set(path, value):
    def edit(obj):
        target = obj
        for key in path[:-1]:
            target = target[key]
        if value is KeyError:
            del target[path[-1]]
        else:
            target[path[-1]] = value
        return obj
    return edit


BAD_DATASETS = [
    (_set(["annotations", 0, "segmentations"], [None, None]), r"video 1, annotation 1, field 'segmentations': has 2 frames but the video has 3"),
    (_set(["annotations", 2, "segmentations", 1], {"size": [20, 30], "counts": "0"}), r"video 2, annotation 3, field 'segmentations'\[1\]: malformed RLE: RLE size \[20, 30\] differs"),
    (_set(["annotations", 1, "category_id"], 9), r"video 1, annotation 2, field 'category_id': category 9 is not in 'categories'"),
    (_set(["annotations", 1, "segmentations", 1, "counts"], "zz"), r"annotation 2, field 'segmentations'\[1\]: malformed RLE"),
    (_set(["annotations", 1, "video_id"], 4), r"annotation 2, field 'video_id': no video with id 4"),
    (_set(["annotations", 1, "id"], 1), r"annotations\[1\], field 'id': must be a unique integer"),
    (_set(["annotations", 0, "areas"], [1, 2]), r"annotation 1, field 'areas': must be a list of 3"),
    (_set(["annotations", 0, "bboxes", 0], [1, 2]), r"annotation 1, field 'bboxes'\[0\]"),
    (_set(["annotations", 0, "length"], 7), r"annotation 1, field 'length': is 7 but the video's is 3"),
    (_set(["annotations", 0, "iscrowd"], 2), r"field 'iscrowd'"),
    (_set(["annotations", 0, "score"], "high"), r"field 'score': must be a finite number"),
    (_set(["videos", 0, "length"], 4), r"video 1, field 'length': is 4 but 'file_names' lists 3"),
    (_set(["videos", 1, "width"], 0), r"video 2, field 'width'"),
    (_set(["videos", 0, "file_names"], KeyError), r"videos\[0\], field 'file_names': is missing"),
    (_set(["categories"], KeyError), r"field 'categories' is missing"),
]


@pytest.mark.parametrize("edit, message", BAD_DATASETS)
def test_dataset_reader_names_video_annotation_and_field(tmp_path, edit, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(edit(_base())))
    with pytest.raises(YTVISError, match=message) as err:
        read_dataset(path)
    assert str(path) in str(err.value)


BAD_RESULTS = [
    (_set([0, "segmentations"], [None]), r"result #0, field 'segmentations': has 1 frames but the video has 3"),
    (_set([2, "segmentations", 0], {"size": [2, 2], "counts": [4]}), r"video 2, result #2, field 'segmentations'\[0\]: malformed RLE: RLE size \[2, 2\]"),
    (_set([1, "video_id"], 3), r"result #1, field 'video_id': no video with id 3"),
    (_set([1, "category_id"], 3), r"result #1, field 'category_id': category 3 is not in 'categories'"),
    (_set([1, "score"], KeyError), r"result #1, field 'score': is missing"),
]


@pytest.mark.parametrize("edit, message", BAD_RESULTS)
def test_results_reader_names_result_and_field(tmp_path, edit, message):
    ds = two_videos()
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(edit(dataset_to_results(ds))))
    with pytest.raises(YTVISError, match=message):
        read_results(path, videos=ds, categories=ds.categories)


def test_not_json_and_wrong_top_level(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("{nope")
    with pytest.raises(YTVISError, match="not valid JSON"):
        read_dataset(p)
    p.write_text("[]")
    with pytest.raises(YTVISError, match="the dataset form is a JSON object"):
        read_dataset(p)


def test_merge_renumbers_deterministically():
    a, b = two_videos(), dataset([(8, 8, 1)], [(1, 2, [box(8, 8, 0, 0, 2, 2)])])
    merged = merge_datasets([a, b])
    assert [v.id for v in merged.videos] == [1, 2, 3]
    assert [(x.id, x.video_id) for x in merged.annotations] == [(1, 1), (2, 1), (3, 2), (4, 3)]
    assert merged.to_json() == merge_datasets([copy.deepcopy(a), copy.deepcopy(b)]).to_json()
    assert [c.id for c in merged.categories] == [1, 2]
    YTVISDataset.from_json(merged.to_json())  # consistent as a file
    b.categories[1].name = "other"
    with pytest.raises(YTVISError, match="category 2 is 'class_2' in one dataset and 'other'"):
        merge_datasets([a, b])


@st.composite
def tracks(draw):
    h, w, n = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 4))
    videos = [(h, w, n), (w, h, n + 1)]
    out = []
    for _ in range(draw(st.integers(0, 5))):
        vid = draw(st.integers(1, 2))
        vh, vw, vn = videos[vid - 1]
        masks = [None if draw(st.booleans()) else
                 np.array(draw(st.lists(st.booleans(), min_size=vh * vw, max_size=vh * vw))).reshape(vh, vw)
                 for _ in range(vn)]
        out.append((vid, draw(st.integers(1, 4)), masks, draw(st.floats(0, 1))))
    return videos, out


@settings(max_examples=25, deadline=None)
@given(tracks())
def test_export_import_gives_identical_masks_ids_and_classes(tmp_path_factory, case):
    videos, spec = case
    ds = dataset(videos, spec, categories=None)
    tmp = tmp_path_factory.mktemp("rt")
    back = read_dataset(write_dataset(tmp / "d.json", ds))
    res = read_results(write_results(tmp / "r.json", ds), videos=back, categories=back.categories)
    for got in (back.annotations, res):
        assert [(a.video_id, a.category_id) for a in got] == [(t[0], t[1]) for t in spec]
        for a, (_, _, masks, score) in zip(got, spec):
            assert a.score == pytest.approx(score)
            for f, m in enumerate(masks):
                # An empty mask is an absent frame (the one rule); any other comes back exactly.
                assert (a.mask(f) is None) if m is None or not m.any() else np.array_equal(a.mask(f), m)
    assert [a.id for a in back.annotations] == list(range(1, len(spec) + 1))


def test_a_dataset_takes_parts_as_objects_or_json_dicts_and_refuses_others(tmp_path):
    ds = two_videos()
    from_dicts = YTVISDataset(videos=[v.to_json() for v in ds.videos], categories=[c.to_json() for c in ds.categories],
                              annotations=ds.annotations)
    assert from_dicts.to_json() == ds.to_json()
    with pytest.raises(TypeError, match="annotations must be Annotation objects"):
        YTVISDataset(videos=ds.videos, categories=ds.categories, annotations=[{"id": 1}])
    with pytest.raises(TypeError, match="categories must be Category objects .* got str"):
        YTVISDataset(videos=ds.videos, categories=["person"])
