"""End to end on generated shapes: the loss falls, the mask AP rises above the
untrained model's, and a stopped-and-resumed run ends with the very same
weights as an uninterrupted one."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from clipvis.train import train
from clipvis.train.history import LOG_HTML, LOG_JSON
from tests.train.conftest import mask_ap, tiny_config

ITERS = 120


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shapes_coco, shapes_ytvis, tiny_checkpoint, tiny_clip_config):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config([shapes_coco, shapes_ytvis], tiny_checkpoint, tiny_clip_config, max_iter=ITERS, log_period=10)
    return out, train(cfg, out, device="cpu", log=lambda m: None)


def test_loss_falls_steadily(trained):
    out, result = trained
    assert result.iteration == ITERS and result.weights == out / "model_final.safetensors"
    totals = np.array([r["total"] for r in result.history])
    assert len(totals) == ITERS // 10
    # Steadily: each third of the run is lower on average than the one before,
    # and the end is far below the start.
    thirds = [t.mean() for t in np.array_split(totals, 3)]
    assert thirds[0] > thirds[1] > thirds[2], thirds
    assert totals[-3:].mean() < 0.7 * totals[:2].mean(), totals
    for name in ("loss_mask", "loss_dice"):
        series = [r[name] for r in result.history]
        assert np.mean(series[-3:]) < np.mean(series[:2]), (name, series)
    assert (out / LOG_JSON).exists() and "plotly" in (out / LOG_HTML).read_text()[:100000].lower()


def test_mask_ap_beats_the_untrained_model(trained, heldout_ytvis, tiny_checkpoint, tiny_clip_config):
    _, result = trained
    before = mask_ap(tiny_checkpoint, tiny_clip_config, heldout_ytvis)
    after = mask_ap(result.weights, tiny_clip_config, heldout_ytvis)
    print(f"held-out mask AP: untrained {before['AP']:.3f} (AP50 {before['AP50']:.3f}), "
          f"trained {after['AP']:.3f} (AP50 {after['AP50']:.3f})")
    assert after["AP50"] > before["AP50"] + 0.2
    assert after["AP"] > before["AP"] + 0.1


def test_stop_and_resume_gives_the_same_weights(tmp_path, shapes_coco, shapes_ytvis, tiny_checkpoint,
                                                 tiny_clip_config):
    # The lr drops half-way, so the resumed half must also get the schedule right;
    # the resumed run uses loader workers, the straight one none.
    cfg = tiny_config([shapes_coco, shapes_ytvis], tiny_checkpoint, tiny_clip_config, max_iter=6, batch_size=2,
                      checkpoint_period=3, lr_steps=(0.5,), num_points=256)
    quiet = dict(device="cpu", log=lambda m: None)
    straight = train(cfg, tmp_path / "straight", **quiet)
    first = train(cfg, tmp_path / "split", stop_at=3, **quiet)
    assert first.iteration == 3 and not (tmp_path / "split" / "model_final.safetensors").exists()
    with pytest.raises(ValueError, match="--resume"):
        train(cfg, tmp_path / "split", **quiet)
    resumed = train(dataclasses.replace(cfg, num_workers=2), tmp_path / "split", resume=True, **quiet)
    assert resumed.iteration == 6
    a, b = load_file(straight.weights), load_file(resumed.weights)
    init = torch.load(tiny_checkpoint, weights_only=True)["model"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    changed = [k for k in a if k.startswith("sem_seg_head.") and not torch.equal(a[k], init[k])]
    assert changed, "training changed no weight"
    assert all(torch.equal(a[k], init[k]) for k in a if k.startswith("backbone."))  # CLIP stays frozen
