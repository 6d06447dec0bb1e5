"""DAVIS palette PNG folders: written atomically, read back into tracks."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from clipvis.formats import YTVISError
from clipvis.formats.davis import DAVIS_PALETTE, export_davis, label_maps, read_davis, write_label_pngs
from clipvis.formats.rle import mask_to_rle
from tests.data.ytvisgen import box, dataset


def test_palette_is_the_davis_one():
    # DAVIS / PASCAL VOC colour map, first entries and the last.
    assert DAVIS_PALETTE[:8].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                                         [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128]]
    assert DAVIS_PALETTE[8].tolist() == [64, 0, 0] and DAVIS_PALETTE[255].tolist() == [224, 224, 192]


def test_export_and_read_back(tmp_path):
    ds = dataset([(12, 16, 3), (8, 8, 1)], [
        (1, 3, [box(12, 16, 0, 0, 4, 4), None, box(12, 16, 1, 1, 2, 2)], 0.9),
        (1, 1, [box(12, 16, 6, 6, 10, 12), box(12, 16, 0, 0, 12, 16), None], 0.5),
        (2, 2, [box(8, 8, 2, 2, 5, 5)]),
    ])
    ds.videos[1].extra["name"] = "second"
    folders = export_davis(ds, tmp_path / "masks")
    assert [f.name for f in folders] == ["v1", "second"]
    assert sorted(p.name for p in folders[0].iterdir()) == ["00000.png", "00001.png", "00002.png", "instances.json"]
    with Image.open(folders[0] / "00000.png") as im:
        assert im.mode == "P" and im.size == (16, 12)
        assert np.asarray(im.getpalette(), np.uint8).reshape(-1, 3)[:3].tolist() == DAVIS_PALETTE[:3].tolist()
    tracks, meta = read_davis(folders[0])
    assert sorted(tracks) == [1, 2]
    assert [m["annotation_id"] for m in meta["instances"]] == [1, 2]
    # Frame 1: instance 2 covers the frame; instance 1 is absent.
    assert tracks[1][1] is None
    assert tracks[1][0] == ds.annotations[0].segmentations[0]
    assert tracks[1][2] == ds.annotations[0].segmentations[2]
    # Where they overlap (frame 1 only has #2), #2's pixels are all of the frame.
    assert tracks[2][1] == ds.annotations[1].segmentations[1]


def test_overlap_keeps_the_higher_score():
    a = mask_to_rle(box(4, 4, 0, 0, 4, 4))
    b = mask_to_rle(box(4, 4, 0, 0, 2, 2))
    low_first = label_maps([[a], [b]], 4, 4, 1, scores=[0.9, 0.1])[0]
    assert (low_first == 1).all()  # a (0.9) painted last covers b
    assert (label_maps([[a], [b]], 4, 4, 1, scores=[0.1, 0.9])[0][:2, :2] == 2).all()


def test_rewrite_replaces_the_folder_whole(tmp_path):
    folder = tmp_path / "v"
    write_label_pngs(folder, [np.zeros((4, 4), np.uint8)] * 3)
    write_label_pngs(folder, [np.ones((4, 4), np.uint8)])
    assert sorted(p.name for p in folder.iterdir()) == ["00000.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp left


def test_too_many_instances_and_bad_folders(tmp_path):
    with pytest.raises(YTVISError, match="at most 255 instances"):
        label_maps([[None]] * 256, 2, 2, 1)
    with pytest.raises(YTVISError, match="holds no PNG"):
        read_davis(tmp_path)
    Image.fromarray(np.zeros((4, 4), np.uint8), "P").save(tmp_path / "00000.png")
    Image.fromarray(np.zeros((5, 4), np.uint8), "P").save(tmp_path / "00001.png")
    with pytest.raises(YTVISError, match=r"00001\.png: is 4x5, but 00000\.png is 4x4"):
        read_davis(tmp_path)
