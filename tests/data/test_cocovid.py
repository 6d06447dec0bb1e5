"""`--format cocovid`: per-frame COCO that pycocotools' COCO reads as plain instances."""
from __future__ import annotations

import json

import numpy as np
from pycocotools.coco import COCO

from clipvis.formats import read_dataset, write_cocovid, write_dataset
from tests.data.ytvisgen import box, dataset


def _two_videos():
    return dataset(
        [(20, 30, 3), (16, 24, 2)],
        [(1, 1, [box(20, 30, 2, 2, 8, 9), None, box(20, 30, 0, 0, 20, 30)], 0.9),
         (1, 2, [None, box(20, 30, 5, 5, 6, 6), None], 0.7),
         (2, 1, [box(16, 24, 1, 1, 4, 4), box(16, 24, 3, 3, 9, 20)], 0.4)])


def test_cocovid_loads_in_pycocotools_and_decodes_to_the_image_sizes(tmp_path):
    ds = _two_videos()
    path = write_cocovid(tmp_path / "labels_cocovid.json", ds)
    coco = COCO(str(path))
    assert len(coco.imgs) == 5 and len(coco.anns) == 5 and sorted(coco.cats) == [1, 2]
    raw = json.loads(path.read_text())
    assert raw["videos"] == [{"id": 1, "name": "v1", "width": 30, "height": 20, "length": 3},
                             {"id": 2, "name": "v2", "width": 24, "height": 16, "length": 2}]
    for ann in coco.loadAnns(coco.getAnnIds()):
        img = coco.imgs[ann["image_id"]]
        mask = coco.annToMask(ann)
        assert mask.shape == (img["height"], img["width"])
        assert img["video_id"] == ann["video_id"]
        track = ds.annotations[ann["instance_id"] - 1]  # instance_id: the YTVIS track's id
        np.testing.assert_array_equal(mask.astype(bool), track.mask(img["frame_id"]))
        assert ann["area"] == int(mask.sum())
        assert ann["bbox"] == track.computed_bboxes()[img["frame_id"]]
        assert img["file_name"] == ds.video(img["video_id"]).file_names[img["frame_id"]]
    # A null frame has no annotation: track 2 appears on its frame 1 only.
    assert [coco.imgs[a["image_id"]]["frame_id"] for a in raw["annotations"] if a["instance_id"] == 2] == [1]
    # pycocotools' own per-image index works as for any COCO file.
    assert len(coco.getAnnIds(imgIds=[3])) == 1 and coco.getImgIds(catIds=[2]) == [2]


def test_cocovid_from_a_written_dataset_keeps_its_areas_and_boxes(tmp_path):
    ds = read_dataset(write_dataset(tmp_path / "d.json", _two_videos()))
    raw = json.loads(write_cocovid(tmp_path / "c.json", ds).read_text())
    assert [a["area"] for a in raw["annotations"][:2]] == [42, 600]
    assert raw["categories"] == [c.to_json() for c in ds.categories]
