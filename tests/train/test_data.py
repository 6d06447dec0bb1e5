"""Readers (COCO / LVIS / YTVIS), large-scale jitter and deterministic sampling."""
import json

import numpy as np
import pytest
from PIL import Image

from clipvis.formats.rle import mask_to_rle
from clipvis.formats.ytvis import Annotation, Category, Video, YTVISDataset, write_dataset
from clipvis.train.augment import PAD_VALUE, large_scale_jitter
from clipvis.train.config import AugmentConfig
from clipvis.train.data import IterationSampler, TrainingSet
from clipvis.train.sources import DataError, load_sources

H, W = 20, 30


def _png(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)


def _coco(tmp_path, images, annotations):
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [{"id": 7, "name": "x"}]}))
    return path


def test_coco_reader_polygons_rle_crowd_and_empty_images(tmp_path):
    image = np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)
    _png(tmp_path / "a.png", image)
    _png(tmp_path / "b.png", image)
    blob = np.zeros((H, W), bool)
    blob[2:5, 20:27] = True
    anns = [
        # Rectangle x 4..10, y 6..12: pixel centres inside are columns 4..9, rows 6..11.
        {"id": 1, "image_id": 1, "category_id": 7, "iscrowd": 0, "segmentation": [[4, 6, 10, 6, 10, 12, 4, 12]]},
        {"id": 2, "image_id": 1, "category_id": 7, "iscrowd": 0, "segmentation": mask_to_rle(blob)},
        {"id": 3, "image_id": 1, "category_id": 7, "iscrowd": 1, "segmentation": mask_to_rle(~blob)},
        {"id": 4, "image_id": 1, "category_id": 7, "iscrowd": 0, "bbox": [0, 0, 3, 3]},  # no mask: skipped
        {"id": 5, "image_id": 2, "category_id": 7, "iscrowd": 1, "segmentation": mask_to_rle(blob)},
    ]
    path = _coco(tmp_path, [{"id": 1, "file_name": "a.png", "height": H, "width": W},
                            {"id": 2, "file_name": "b.png", "height": H, "width": W}], anns)
    records, summary = load_sources([str(path)])
    assert len(records) == 1  # image 2 has only a crowd region
    assert "2 crowd regions" in summary[0] and "1 annotations without a usable mask" in summary[0]
    img, masks = records[0].load(np.random.default_rng(0))
    assert np.array_equal(img, image)
    rect = np.zeros((H, W), bool)
    rect[6:12, 4:10] = True
    assert masks.shape == (2, H, W)
    assert np.array_equal(masks[0], rect) and np.array_equal(masks[1], blob)


def test_lvis_coco_url_and_image_root(tmp_path):
    image = np.zeros((H, W, 3), np.uint8)
    _png(tmp_path / "coco" / "train2017" / "000000000042.jpg", image)
    ann = {"id": 1, "image_id": 42, "category_id": 7, "segmentation": [[1, 1, 8, 1, 8, 8]]}
    path = _coco(tmp_path, [{"id": 42, "height": H, "width": W,
                             "coco_url": "http://images.cocodataset.org/train2017/000000000042.jpg"}], [ann])
    with pytest.raises(DataError, match=r"1 of 1 images .*train2017/000000000042.jpg.*--image-root"):
        load_sources([str(path)])
    records, _ = load_sources([str(path)], [str(tmp_path / "coco")])
    assert records[0].path.endswith("train2017/000000000042.jpg")


def test_bad_files_get_clear_messages(tmp_path):
    results = tmp_path / "results.json"
    results.write_text("[]")
    with pytest.raises(DataError, match="results files"):
        load_sources([str(results)])
    _png(tmp_path / "a.png", np.zeros((10, 10, 3), np.uint8))
    path = _coco(tmp_path, [{"id": 1, "file_name": "a.png", "height": H, "width": W}],
                 [{"id": 1, "image_id": 1, "segmentation": [[1, 1, 5, 1, 5, 5]]}])
    records, _ = load_sources([str(path)])
    with pytest.raises(DataError, match="10x10, its annotation file says 30x20"):
        records[0].load(np.random.default_rng(0))


def test_ytvis_frames_are_sampled_with_the_instances_present_in_them(tmp_path):
    frames = [np.full((H, W, 3), v, np.uint8) for v in (10, 200)]
    for t, f in enumerate(frames):
        _png(tmp_path / "JPEGImages" / "v1" / f"{t}.png", f)
    present = np.zeros((H, W), bool)
    present[3:9, 3:9] = True
    ds = YTVISDataset(videos=[Video(id=1, width=W, height=H, file_names=["v1/0.png", "v1/1.png"])],
                      categories=[Category(id=1, name="thing")],
                      annotations=[Annotation.from_masks(id=1, video_id=1, category_id=1, masks=[present, None])])
    path = write_dataset(tmp_path / "ds.json", ds)
    records, summary = load_sources([str(path)])
    assert "1 videos, 2 frames" in summary[0]
    seen = set()
    for seed in range(20):
        image, masks = records[0].load(np.random.default_rng(seed))
        if image[0, 0, 0] == 10:
            assert masks.shape == (1, H, W) and np.array_equal(masks[0], present)
        else:
            assert masks.shape == (0, H, W)  # the instance is absent in frame 1
        seen.add(int(image[0, 0, 0]))
    assert seen == {10, 200}


def _square_image(h=60, w=80):
    image = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((1, h, w), bool)
    mask[0, 10:30, 50:70] = True  # a red square in the right half
    image[mask[0]] = (255, 0, 0)
    return image, mask


def test_large_scale_jitter_resizes_crops_pads_and_keeps_masks_aligned():
    image, mask = _square_image()
    cfg = AugmentConfig(crop_size=64, min_scale=0.5, max_scale=0.5, flip=False)
    out, masks = large_scale_jitter(image, mask, np.random.default_rng(0), cfg)
    # Fits in a 32 x 32 square: 80 x 60 -> 32 x 24, then padded grey to 64 x 64.
    assert out.shape == (64, 64, 3) and masks.shape == (1, 64, 64)
    assert (out[24:] == PAD_VALUE).all() and (out[:, 32:] == PAD_VALUE).all() and not masks[0, 24:].any()
    assert masks[0].sum() == 64  # the 20 x 20 square at 0.4 scale is 8 x 8
    assert (out[masks[0]][:, 0] > 200).mean() > 0.7  # the mask covers the red pixels
    flips = set()
    for seed in range(12):
        out, masks = large_scale_jitter(image, mask, np.random.default_rng(seed),
                                        AugmentConfig(crop_size=64, min_scale=0.5, max_scale=0.5))
        cols = np.nonzero(masks[0].any(0))[0]
        flips.add(bool(cols.mean() < 16))  # flipped: the square moves to the left half
        red = out[..., 0] > 200
        assert (red & masks[0]).sum() >= 0.7 * masks[0].sum()
    assert flips == {True, False}


def test_crops_drop_instances_they_cut_away():
    image, mask = _square_image()
    cfg = AugmentConfig(crop_size=32, min_scale=2.0, max_scale=2.0, flip=False)  # 64 x 48 image, 32 x 32 crop
    counts = [len(large_scale_jitter(image, mask, np.random.default_rng(s), cfg)[1]) for s in range(20)]
    assert 0 in counts and 1 in counts
    for s in range(20):
        _, masks = large_scale_jitter(image, mask, np.random.default_rng(s), cfg)
        assert all(m.any() for m in masks)


def test_samples_depend_only_on_seed_and_index(shapes_coco):
    records, _ = load_sources([str(shapes_coco)])
    cfg = AugmentConfig(crop_size=64)
    a, b = TrainingSet(records, augment=cfg, seed=3), TrainingSet(records, augment=cfg, seed=3)
    for k in (5, 0, 100, 5):  # any order, epochs beyond the first
        ia, ma = a[k]
        ib, mb = b[k]
        assert np.array_equal(ia.numpy(), ib.numpy()) and np.array_equal(ma.numpy(), mb.numpy())
    assert not np.array_equal(a[1][0].numpy(), TrainingSet(records, augment=cfg, seed=4)[1][0].numpy())
    n = len(records)
    assert sorted(a.record_index(k) for k in range(n)) == list(range(n))  # each record once per epoch
    assert [a.record_index(k) for k in range(n)] != [a.record_index(k) for k in range(n, 2 * n)]


def test_iteration_sampler_splits_batches_across_ranks():
    ranks = [list(IterationSampler(start=2, stop=4, batch_size=3, rank=r, world=2)) for r in range(2)]
    assert ranks[0] == [12, 13, 14, 18, 19, 20] and ranks[1] == [15, 16, 17, 21, 22, 23]
