"""The supervision bridge: masks and boxes go to `sv.Detections` and come back unchanged."""
from __future__ import annotations

import numpy as np
import pytest

sv = pytest.importorskip("supervision")  # requirements-dev.txt installs it; the extra is optional

from clipvis import load_vocabulary  # noqa: E402
from clipvis.integrations.supervision import from_detections, to_detections  # noqa: E402
from tests.conftest import moving_squares_video  # noqa: E402


@pytest.fixture(scope="module")
def result(tiny_predictor):
    return tiny_predictor.predict(list(moving_squares_video(5, 48, 64, seed=8)), load_vocabulary("person, car"))


def test_detections_hold_the_frames_masks_boxes_and_ids(result):
    seen = 0
    for t in range(result.num_frames):
        det = to_detections(result, t)
        shown = [inst for inst in result if inst.present[t] and inst.mask(t).any()]
        assert len(det) == len(shown)
        seen += len(det)
        for k, inst in enumerate(shown):
            np.testing.assert_array_equal(det.mask[k], inst.mask(t))
            x, y, w, h = inst.bbox(t)
            np.testing.assert_array_equal(det.xyxy[k], [x, y, x + w, y + h])
            assert (det.class_id[k], det.tracker_id[k], det.data["class_name"][k]) == (
                inst.category_id, inst.track_id, inst.name)
            assert det.confidence[k] == pytest.approx(inst.score)
        # Same corners as supervision's own, for its exclusive convention.
        if len(det):
            np.testing.assert_array_equal(det.xyxy, sv.mask_to_xyxy(det.mask) + [0, 0, 1, 1])
    assert seen > 0


def test_round_trip_gives_back_the_tracks(result):
    tracks = from_detections([to_detections(result, t) for t in range(result.num_frames)], video_id=4)
    expected = result.annotations(video_id=4)
    key = lambda a: (a.category_id, round(a.score, 5))  # noqa: E731
    assert sorted(map(key, tracks)) == sorted(map(key, expected))
    by_key = {key(a): a for a in expected}
    for a in tracks:
        want = by_key[key(a)]
        assert a.video_id == 4 and a.segmentations == want.segmentations
        assert a.computed_bboxes() == want.computed_bboxes()


def test_frame_out_of_range_and_incomplete_detections(result):
    with pytest.raises(IndexError, match="frame must be in 0..4"):
        to_detections(result, 5)
    with pytest.raises(ValueError, match="need mask, class_id and tracker_id"):
        from_detections([sv.Detections(xyxy=np.zeros((1, 4), np.float32))])
