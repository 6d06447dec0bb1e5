"""Fixtures for the training tests: generated shape data sets and a tiny
model run config small enough for CPU."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from clipvis.train import AugmentConfig, LossConfig, MatchCosts, ModelSpec, TrainConfig
from clipvis.train.synthetic import write_coco_shapes, write_ytvis_shapes


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The tiny model is too small to gain from threads, and on a busy machine
    OpenMP threads waiting for each other make a run ten times slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shapes_coco(tmp_path_factory) -> Path:
    return write_coco_shapes(tmp_path_factory.mktemp("shapes_coco"), num_images=48, seed=0)


@pytest.fixture(scope="session")
def shapes_ytvis(tmp_path_factory) -> Path:
    return write_ytvis_shapes(tmp_path_factory.mktemp("shapes_ytvis"), num_videos=8, num_frames=4, seed=1)


@pytest.fixture(scope="session")
def heldout_ytvis(tmp_path_factory) -> Path:
    """Held-out frames (other seed): 10 two-frame videos of moving shapes."""
    return write_ytvis_shapes(tmp_path_factory.mktemp("heldout"), num_videos=10, num_frames=2, seed=123)


def tiny_config(data, checkpoint, clip_config, **overrides) -> TrainConfig:
    """A CPU-sized run of the tiny model: 96-pixel crops, 1024 points."""
    points = overrides.pop("num_points", 1024)
    base = dict(data=tuple(str(d) for d in data),
                model=ModelSpec(init=str(checkpoint), clip_config=str(clip_config)),
                batch_size=4, lr=1e-3, lr_steps=(), num_workers=0, log_period=10, checkpoint_period=1000,
                augment=AugmentConfig(crop_size=96, min_scale=0.6, max_scale=1.4),
                loss=LossConfig(num_points=points, match=MatchCosts(num_points=points)))
    base.update(overrides)
    return TrainConfig(**base)


def mask_ap(weights, clip_config, gt_json: Path) -> dict:
    """The project's own YTVIS evaluation of a checkpoint on a generated set
    (one class, so scores come from the objectness and IoU heads)."""
    from clipvis import InferenceConfig, Vocabulary, load_predictor
    from clipvis.evaluate import evaluate
    from clipvis.formats.ytvis import read_dataset

    gt = read_dataset(gt_json)
    predictor = load_predictor(str(weights), clip_config=str(clip_config), device="cpu",
                               config=InferenceConfig(min_size=96, topk=10))
    vocab = Vocabulary.from_names(["shape"])
    results = []
    for v in gt.videos:
        frames = [np.asarray(Image.open(gt_json.parent / "JPEGImages" / f).convert("RGB")) for f in v.file_names]
        results += predictor.predict(frames, vocab).to_results(v.id)
    return evaluate(gt, results)
