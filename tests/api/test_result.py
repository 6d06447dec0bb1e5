"""The Python API of a result: instances, masks, boxes, and the files it writes."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from clipvis import VideoResult, load_vocabulary
from clipvis.formats import read_dataset, read_results, rle_bbox, mask_to_rle
from clipvis.video import open_video
from tests.conftest import moving_squares_video
from tests.label.conftest import write_avi

VOCAB = load_vocabulary("person, car|automobile, dog")


@pytest.fixture(scope="module")
def result(tiny_predictor) -> VideoResult:
    return tiny_predictor.predict(list(moving_squares_video(6, 48, 64, seed=4)), VOCAB)


def test_a_result_is_a_sequence_of_instances(result):
    assert len(result) == len(result.instances) > 0
    assert list(result) == result.instances and result[0] is result.instances[0]
    assert [i.score for i in result] == sorted((i.score for i in result), reverse=True)


def test_top_classes_are_category_ids_names_and_scores(result):
    inst = result[0]
    top = inst.top_classes(3)
    assert [len(t) for t in top] == [3, 3, 3]
    assert [(cid, name) for cid, name, _ in top] == [
        (VOCAB.classes[i].id, VOCAB.classes[i].name) for i in np.argsort(-inst.class_scores, kind="stable")[:3]]
    assert top[0][:2] == (inst.category_id, inst.name)  # the best class is the instance's own
    assert [s for _, _, s in top] == sorted((s for _, _, s in top), reverse=True)


def test_instance_masks_boxes_frames_and_track_id(result):
    for k, inst in enumerate(result):
        assert inst.track_id == inst.query
        assert inst.frames == [t for t in range(result.num_frames) if inst.present[t]]
        for t in range(result.num_frames):
            m = inst.mask(t)
            assert m.shape == result.frame_hw and m.dtype == bool
            np.testing.assert_array_equal(m, result.mask(k, t))
            if not inst.present[t] or not m.any():
                assert inst.bbox(t) is None
            else:
                assert inst.bbox(t) == rle_bbox(mask_to_rle(m))  # as pycocotools computes it


def test_segmentations_null_where_absent_or_empty(result):
    segs = result.segmentations()
    for inst, per_frame in zip(result, segs):
        for t, seg in enumerate(per_frame):
            assert (seg is None) == (not inst.present[t] or not inst.mask(t).any())


def test_to_results_lists_every_instance_with_boxes(result, tmp_path):
    raw = result.to_results(video_id=7)
    assert len(raw) == len(result) and {r["video_id"] for r in raw} == {7}
    for r, inst in zip(raw, result):
        assert r["bboxes"] == [inst.bbox(t) for t in range(result.num_frames)]
        assert [s is None for s in r["segmentations"]] == [b is None for b in r["bboxes"]]
    path = result.save(tmp_path / "r.json", format="results", video_id=7)
    ds = result.to_dataset(video_id=7)
    assert len(read_results(path, videos=ds)) == len(result)


def test_to_dataset_with_the_opened_video_and_save_in_every_format(tiny_predictor, tmp_path):
    clip = write_avi(tmp_path / "clip.avi", moving_squares_video(6, 48, 64, seed=4))
    video = open_video(clip, stride=2)
    result = tiny_predictor.predict((f for _, f in video), VOCAB)
    ds = result.to_dataset(video, video_id=3, categories="used")
    assert ds.videos[0].file_names == video.file_names and ds.videos[0].id == 3
    assert [c.id for c in ds.categories] == sorted({a.category_id for a in ds.annotations})
    assert all(c.extra["supercategory"] == "object" for c in ds.categories)
    assert [a.score for a in ds.annotations] == [a.score for a in result.annotations()]
    written = read_dataset(result.save(tmp_path / "d.json", video=video, video_id=3))
    assert [c.id for c in written.categories] == VOCAB.ids  # "all" by default
    coco = COCO(str(result.save(tmp_path / "c.json", format="cocovid", video=video)))
    assert len(coco.imgs) == 3 and all(coco.annToMask(a).shape == (48, 64) for a in coco.loadAnns(coco.getAnnIds()))
    with pytest.raises(ValueError, match="format must be 'dataset', 'results' or 'cocovid'"):
        result.save(tmp_path / "x.json", format="coco")
    with pytest.raises(ValueError, match="describes 6 frames of 64x48, but the result has 3"):
        result.to_dataset(open_video(clip))
    assert not (tmp_path / "x.json").exists()


def test_an_instance_outside_a_result_says_so(result):
    from dataclasses import replace

    loose = replace(result[0], analysis=None, vocabulary=None)
    with pytest.raises(ValueError, match="not part of a VideoResult"):
        loose.mask(0)
    rebound = VideoResult(analysis=result.analysis, vocabulary=result.vocabulary, instances=[loose],
                          class_scores=result.class_scores)
    np.testing.assert_array_equal(rebound[0].mask(0), result[0].mask(0))
    assert json.dumps(rebound[0].top_classes(1))  # plain values
