"""Labels of clicked tracks: the engine's tiny CLIP (tests/conftest.py),
checked against a hand computation of the mask pooling and the classifier."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from clipvis.formats.rle import mask_to_rle
from clipvis.preprocess import to_model_input
from clipvis.prompt import PromptError, classify_track, engine_clip, pool_track, select_frames
from clipvis.prompt.labels import mask_cells
from clipvis.video import resize_shortest_edge
from clipvis.vocab import Vocabulary

# 128x192 frames with the tiny predictor's min_size 64: the model sees them at
# 64x96 (exactly half), unpadded, and its dense map has 2x3 cells, each the
# frame's 64x64 block (i, j); so the hand computation can cut blocks.
H, W, CELL = 128, 192, 64
VOCAB = Vocabulary.from_names(["person", "dog, puppy", "cat", "bicycle", "car", "tree", "horse"])


def rect(y0, y1, x0, x1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.fixture(scope="module")
def clip(tiny_predictor):
    return engine_clip(tiny_predictor)


@pytest.fixture(scope="module")
def frames():
    return np.random.default_rng(1).integers(0, 255, (12, H, W, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def masks():
    m = {f: rect(0, 0, 0, 0) for f in range(12)}  # frames 0 and 1 stay empty
    m[2], m[3], m[4] = rect(0, 70, 0, 70), rect(0, 128, 0, 100), rect(0, 40, 0, 40)  # run 1: frame 3 largest
    m[5], m[6], m[7], m[8] = rect(60, 128, 60, 192), rect(64, 128, 128, 192), rect(0, 128, 64, 192), rect(5, 9, 5, 9)
    m[9], m[10], m[11] = rect(70, 80, 70, 80), rect(100, 110, 2, 12), rect(0, 10, 0, 10)  # run 3: all tiny, equal
    return m


def hand_vector(predictor, frames, masks, chosen):
    backbone = predictor.model.backbone
    vectors = []
    for f in chosen:
        x = to_model_input([resize_shortest_edge(frames[f], 64, 1333)])
        dense = backbone.extract(x)["clip_vis_dense"][0]  # (C, 2, 3)
        cover = masks[f].reshape(2, CELL, 3, CELL).mean(axis=(1, 3))
        inside = cover > 0.5 if (cover > 0.5).any() else cover == cover.max()
        mean = dense[:, torch.from_numpy(inside)].mean(-1)  # the dense features inside the mask, averaged
        emb = backbone.clip_model.visual.head(backbone.clip_model.visual.trunk.head(mean[None, :, None, None]))[0]
        vectors.append(emb / emb.norm())
    return torch.stack(vectors).mean(0)


def hand_top5(predictor, vector):
    rows, per_class = predictor.text_classifier(VOCAB)
    scale = min(math.exp(float(predictor.model.backbone.clip_model.logit_scale)), 100)
    row_logits = scale * (rows.float() @ (vector / vector.norm()))
    logits, r = [], 0
    for n in per_class:  # a class scores its best synonym
        logits.append(row_logits[r:r + n].max())
        r += n
    probs = torch.stack(logits).softmax(0)
    order = sorted(range(len(VOCAB)), key=lambda i: -float(probs[i]))[:5]
    return [(VOCAB.classes[i].id, VOCAB.classes[i].name, float(probs[i])) for i in order]


def test_label_equals_the_hand_computation(tiny_predictor, clip, frames, masks):
    chosen = [3, 7, 9]  # ten frames with a mask, cut 3 + 4 + 3; the largest of each run, the earliest of equals
    assert select_frames({f: int(m.sum()) for f, m in masks.items()}, 3) == chosen
    vector = pool_track(clip, frames, masks, k=3)
    hand = hand_vector(tiny_predictor, frames, masks, chosen)
    assert vector.shape == hand.shape and torch.allclose(vector, hand, atol=1e-5)
    top5 = classify_track(clip, vector, VOCAB)
    expected = hand_top5(tiny_predictor, hand)
    assert [(c.category_id, c.name) for c in top5] == [(i, n) for i, n, _ in expected]
    assert np.allclose([c.score for c in top5], [s for _, _, s in expected], atol=1e-5)
    assert top5[0].score >= top5[-1].score and len(top5) == 5


def test_rle_masks_and_a_stored_vector_relabel_without_frames(clip, frames, masks):
    vector = pool_track(clip, frames, masks, k=3)
    assert torch.equal(pool_track(clip, frames, {f: mask_to_rle(m) for f, m in masks.items()}, k=3), vector)
    stored = torch.tensor(vector.tolist())  # as the studio keeps it
    other = Vocabulary.from_names(["zebra", "giraffe"])
    labels = classify_track(clip, stored, other, topk=5)
    assert [c.name for c in labels] == sorted(["zebra", "giraffe"], key=lambda n: -next(
        c.score for c in labels if c.name == n)) and abs(sum(c.score for c in labels) - 1) < 1e-5


def test_frame_selection():
    areas = {0: 0, 1: 5, 2: 9, 3: 9, 4: 1, 5: 0, 6: 7, 7: 8}
    assert select_frames(areas, 1) == [2]  # the largest; the earliest of equals
    assert select_frames(areas, 2) == [2, 7]  # runs [1, 2, 3] and [4, 6, 7]
    assert select_frames(areas, 3) == [2, 3, 7]  # runs [1, 2], [3, 4] and [6, 7]
    assert select_frames(areas, 10) == [1, 2, 3, 4, 6, 7]  # every frame with a mask, no empty one
    assert select_frames({0: 0}, 4) == []
    with pytest.raises(ValueError):
        select_frames(areas, 0)


def test_a_mask_smaller_than_a_cell_keeps_the_cell_it_covers_most():
    tiny = np.zeros((H, W), bool)
    tiny[70:74, 150:160] = True  # 40 pixels, in cell (1, 2)
    cells = mask_cells(tiny, (64, 96), (64, 96), (2, 3))
    assert cells.tolist() == [[-1, -1, -1], [-1, -1, 1]]
    half = rect(0, 128, 0, 100)  # cell column 1 is covered 36/64 = 56%: inside
    assert mask_cells(half, (64, 96), (64, 96), (2, 3)).tolist() == [[1, 1, -1], [1, 1, -1]]


def test_nothing_to_label_gets_a_sentence(clip, frames):
    with pytest.raises(PromptError, match="no mask on any frame"):
        pool_track(clip, frames, {0: np.zeros((H, W), bool)})
    with pytest.raises(PromptError, match="the mask of frame 2 is 10x10, the frame 192x128"):
        pool_track(clip, frames, {2: np.ones((10, 10), bool)})
