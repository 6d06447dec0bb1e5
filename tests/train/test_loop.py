"""One training step: what trains, what stays frozen, the optimizer groups and
the schedule."""
import dataclasses

import pytest
import torch
from torch import nn

from clipvis.train.config import TrainConfig
from clipvis.train.data import collate
from clipvis.train.loop import Trainer
from tests.train.conftest import tiny_config


@pytest.fixture(scope="module")
def trainer(tmp_path_factory, shapes_coco, tiny_checkpoint, tiny_clip_config):
    cfg = tiny_config([shapes_coco], tiny_checkpoint, tiny_clip_config, batch_size=2, num_points=256,
                      amp="bf16")
    return Trainer(cfg, tmp_path_factory.mktemp("step"), device="cpu", log=lambda m: None)


def test_one_step_trains_every_head_parameter_and_no_clip_parameter(trainer):
    images, masks = collate([trainer.dataset[k] for k in range(2)])
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    losses = trainer.step(0, images, masks)  # under bf16 autocast on the CPU
    assert torch.isfinite(losses["total"])
    # Deep supervision: the 2-layer tiny decoder gives 3 predictions (the queries' own + 2 layers).
    assert {"loss_dice", "loss_dice_0", "loss_dice_1"} <= set(losses) and "loss_dice_2" not in losses
    # DistributedDataParallel needs every trained parameter in the graph.
    missing = [n for n, p in trainer.model.sem_seg_head.named_parameters() if p.grad is None]
    assert not missing
    after = trainer.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("backbone."))
    assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith("sem_seg_head."))
    assert not trainer.model.backbone.clip_model.training and trainer.model.sem_seg_head.training


def test_no_weight_decay_on_norms_and_embeddings(trainer):
    decay, no_decay = trainer.optimizer.param_groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    ids = {id(p) for p in no_decay["params"]}
    head = trainer.model.sem_seg_head
    for module in head.modules():
        if isinstance(module, (nn.LayerNorm, nn.GroupNorm, nn.Embedding)):
            assert all(id(p) in ids for p in module.parameters(recurse=False))
    assert id(head.predictor.query_feat.weight) in ids
    assert any(p is head.predictor.mask_embed.layers[0].weight for p in decay["params"])
    n = sum(len(g["params"]) for g in trainer.optimizer.param_groups)
    assert n == len([p for p in head.parameters()])


def test_learning_rate_steps():
    cfg = TrainConfig(data=("x.json",), max_iter=368750)
    assert cfg.lr_at(0) == 1e-4 and cfg.lr_at(327777) == 1e-4
    assert cfg.lr_at(327778) == pytest.approx(1e-5) and cfg.lr_at(355092) == pytest.approx(1e-6)
    assert dataclasses.replace(cfg, lr_steps=()).lr_at(368749) == 1e-4


def test_settings_are_checked():
    with pytest.raises(ValueError, match="amp"):
        TrainConfig(data=("x.json",), amp="fp8")
    with pytest.raises(ValueError, match="one for all, or one per --data"):
        TrainConfig(data=("a.json", "b.json", "c.json"), image_roots=("r1", "r2"))
    cfg = TrainConfig(data=("x.json",))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_a_diverged_loss_stops_with_a_clear_error(trainer, monkeypatch):
    from clipvis.train.loop import LossDiverged
    images, masks = collate([trainer.dataset[k] for k in range(2)])
    before = [p.detach().clone() for p in trainer.params]
    monkeypatch.setattr(trainer, "criterion", lambda *a, **k: {"loss_mask": torch.tensor(float("nan"))})
    with pytest.raises(LossDiverged, match="iteration 7"):
        trainer.step(7, images, masks)
    assert all(torch.equal(a, b) for a, b in zip(before, trainer.params))  # no step was taken
