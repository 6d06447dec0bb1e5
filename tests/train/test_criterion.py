"""The loss terms and the matching against values computed by hand.

Masks that are constant over the image make every point-sampled quantity
independent of where the points fall, so the expected numbers follow from the
formulas alone (softplus, sigmoid, the dice and IoU definitions).
"""
import itertools
import math

import pytest
import torch

from clipvis.train.criterion import (LossConfig, SetCriterion, hard_iou, iou_regression, mask_bce, mask_dice)
from clipvis.train.matcher import MatchCosts, match_image, pairwise_bce, pairwise_dice, pairwise_soft_iou

P = 64  # points


def softplus(x):
    return math.log1p(math.exp(x))


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


def test_pairwise_costs_by_hand():
    logits = torch.tensor([[2.0, -1.0, 0.0, 3.0]])
    targets = torch.tensor([[1.0, 0.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    s = [sigmoid(v) for v in (2.0, -1.0, 0.0, 3.0)]
    bce0 = (softplus(-2) + softplus(-1) + softplus(0) + softplus(3)) / 4
    bce1 = (softplus(-2) + softplus(1) + softplus(0) + softplus(-3)) / 4
    assert pairwise_bce(logits, targets).tolist()[0] == pytest.approx([bce0, bce1], rel=1e-6)
    dice0 = 1 - (2 * (s[0] + s[2]) + 1) / (sum(s) + 2 + 1)
    dice1 = 1 - (2 * sum(s) + 1) / (sum(s) + 4 + 1)
    assert pairwise_dice(logits, targets).tolist()[0] == pytest.approx([dice0, dice1], rel=1e-6)
    iou0 = 1 - (s[0] + s[2] + 1) / (sum(s) + 2 - (s[0] + s[2]) + 1)
    assert pairwise_soft_iou(logits, targets)[0, 0].item() == pytest.approx(iou0, rel=1e-6)


def test_point_losses_by_hand():
    logits = torch.tensor([[2.0, -1.0, 3.0, -2.0]])
    labels = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    # BCE: mean over points, divided by the number of masks (here 2).
    expected = (softplus(-2) + softplus(1) + softplus(3) + softplus(-2)) / 4 / 2
    assert mask_bce(logits, labels, 2.0).item() == pytest.approx(expected, rel=1e-6)
    s = [sigmoid(v) for v in (2.0, -1.0, 3.0, -2.0)]
    assert mask_dice(logits, labels, 1.0).item() == pytest.approx(1 - (2 * (s[0] + s[1]) + 1) / (sum(s) + 2 + 1))
    # Hard IoU: prediction (sigmoid > 0.5) = [1, 0, 1, 0]; intersection 1, union 3.
    assert hard_iou(logits, labels).item() == pytest.approx(1 / 3)
    assert hard_iou(torch.full((1, 4), -5.0), torch.zeros(1, 4)).item() == 0.0  # both empty
    # IoU regression: L1, averaged only over masks whose true IoU is > 0.
    loss = iou_regression(torch.tensor([0.5, 0.9, 0.2]), torch.tensor([0.25, 0.0, 0.6]))
    assert loss.item() == pytest.approx((0.25 + 0.4) / 2)
    assert iou_regression(torch.tensor([0.5]), torch.tensor([0.0])).item() == 0.0


def _constant_layer(mask_values, object_logits, ious, h=8, w=8):
    q = len(mask_values)
    return {"mask_logits": torch.tensor(mask_values).view(1, q, 1, 1).expand(1, q, h, w).clone(),
            "object_logits": torch.tensor([object_logits]), "ious": torch.tensor([ious])}


def _expected(layer, targets_const, weights, nw):
    """Brute-force matching and the four losses from the formulas."""
    c = [float(v) for v in layer["mask_logits"][0, :, 0, 0]]
    obj = layer["object_logits"][0].tolist()
    p_obj = [math.exp(a) / (math.exp(a) + math.exp(b)) for a, b in obj]

    def bce(q, t):
        return softplus(-c[q]) if t else softplus(c[q])

    def dice(q, t):
        s = sigmoid(c[q])
        return 1 - (2 * s * P * t + 1) / (s * P + t * P + 1)

    def cost(q, t):
        return -2 * p_obj[q] + 5 * bce(q, targets_const[t]) + 5 * dice(q, targets_const[t])

    n = len(targets_const)
    best = min(itertools.permutations(range(len(c)), n), key=lambda qs: sum(cost(q, t) for t, q in enumerate(qs)))
    matched = {q: t for t, q in enumerate(best)}
    num = 0.0
    den = 0.0
    for q, (a, b) in enumerate(obj):
        y = 0 if q in matched else 1
        logp = (a if y == 0 else b) - math.log(math.exp(a) + math.exp(b))
        w = 1.0 if y == 0 else nw
        num += -w * logp
        den += w
    iou_terms = []
    for q, t in matched.items():
        true_iou = 1.0 if (c[q] > 0 and targets_const[t]) else 0.0
        if true_iou > 0:
            iou_terms.append(abs(float(layer["ious"][0, q]) - true_iou))
    return {
        "loss_object_ce": weights[0] * num / den,
        "loss_mask": weights[1] * sum(bce(q, targets_const[t]) for q, t in matched.items()) / n,
        "loss_dice": weights[2] * sum(dice(q, targets_const[t]) for q, t in matched.items()) / n,
        "loss_iou": weights[3] * (sum(iou_terms) / len(iou_terms) if iou_terms else 0.0),
    }, best


@pytest.mark.parametrize("no_object_weight", [0.1, 0.4])
def test_criterion_matches_hand_computation_with_deep_supervision(no_object_weight):
    cfg = LossConfig(num_points=P, match=MatchCosts(num_points=P), no_object_weight=no_object_weight)
    crit = SetCriterion(config=cfg)
    assert crit.empty_object_weight.tolist() == pytest.approx([1.0, no_object_weight])
    # Two targets: one covering the whole image, one empty (its mask all 0).
    targets = [torch.stack([torch.ones(32, 32), torch.zeros(32, 32)])]
    # The earlier layer prefers other queries than the last: each is matched on its own.
    early = _constant_layer([-4.0, 3.0, 0.5], [[0.0, 1.0], [2.0, -1.0], [0.3, 0.3]], [0.2, 0.7, 0.4])
    last = _constant_layer([2.5, -3.0, -0.5], [[1.5, 0.0], [-1.0, 1.0], [0.0, 0.2]], [0.6, 0.1, 0.9])
    losses = crit([early, last], targets, generator=torch.Generator().manual_seed(0))
    weights = (2.0, 5.0, 5.0, 2.0)
    exp_last, match_last = _expected(last, [1, 0], weights, no_object_weight)
    exp_early, match_early = _expected(early, [1, 0], weights, no_object_weight)
    assert match_last != match_early
    assert set(losses) == set(exp_last) | {k + "_0" for k in exp_early}
    for k, v in exp_last.items():
        assert losses[k].item() == pytest.approx(v, rel=1e-5), k
    for k, v in exp_early.items():
        assert losses[k + "_0"].item() == pytest.approx(v, rel=1e-5), k


def test_matching_with_scipy_picks_the_fitting_query():
    # Query 2 is target 0's exact shape, query 0 target 1's; query 1 is noise.
    h = w = 16
    t0 = torch.zeros(h, w)
    t0[:, :8] = 1
    t1 = torch.zeros(h, w)
    t1[4:12, 4:12] = 1
    mask_logits = torch.stack([t1 * 20 - 10, torch.randn(h, w), t0 * 20 - 10])
    object_logits = torch.tensor([[1.0, 0.0], [3.0, 0.0], [1.0, 0.0]])
    src, tgt = match_image(object_logits, mask_logits, torch.stack([t0, t1]), MatchCosts(num_points=500),
                           generator=torch.Generator().manual_seed(1))
    assert dict(zip(src.tolist(), tgt.tolist())) == {0: 1, 2: 0}
    # More targets than queries: every query is matched once.
    src, tgt = match_image(object_logits[:1], mask_logits[:1], torch.stack([t0, t1]), MatchCosts(num_points=500))
    assert src.tolist() == [0] and tgt.tolist() == [1]


def test_no_targets_gives_zero_mask_losses_that_still_reach_the_parameters():
    crit = SetCriterion(config=LossConfig(num_points=P, match=MatchCosts(num_points=P)))
    logits = torch.randn(2, 3, 8, 8, requires_grad=True)
    ious = torch.rand(2, 3, requires_grad=True)
    obj = torch.randn(2, 3, 2, requires_grad=True)
    losses = crit([{"mask_logits": logits, "ious": ious, "object_logits": obj}], [torch.zeros(0, 32, 32)] * 2)
    assert losses["loss_mask"].item() == 0 and losses["loss_dice"].item() == 0 and losses["loss_iou"].item() == 0
    # Every query is "no object": plain CE on class 1 (weights cancel in the weighted mean).
    expected = 2.0 * torch.nn.functional.cross_entropy(obj.detach().reshape(-1, 2), torch.ones(6, dtype=torch.long))
    assert losses["loss_object_ce"].item() == pytest.approx(expected.item(), rel=1e-6)
    sum(losses.values()).backward()
    assert logits.grad is not None and ious.grad is not None
