"""The whole video pass (streaming windows, tracking, classification, instance
inference, masks at the frame size) against the official outputs."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from clipvis.predictor import InferenceConfig
from clipvis.vocab import Vocabulary

from tests.engine.oracle_bundle import assert_close


def run(bundle, model_and_tokenizer, predictor_class, tag, t, k, *, window=10, tmp_path=None):
    model, tokenizer = model_and_tokenizer
    cfg = InferenceConfig(min_size=bundle.min_size, memory_size=t, top_k_frames=k, topk=bundle.topk(tag),
                          window=window)
    predictor = predictor_class(model, tokenizer=tokenizer, config=cfg, text_cache_dir=tmp_path)
    return predictor.predict(list(bundle.frames), Vocabulary.from_names(bundle.vocab))


def upsampled_oracle_logits(bundle, ins, k):
    """The oracle's own logits at the frame size, to tell boundary pixels."""
    pre = bundle.npz("preprocess.npz")
    x = torch.from_numpy(ins["pred_masks_logits_lowres"][k])[None]
    x = F.interpolate(x, size=tuple(pre["padded_hw"]), mode="bilinear", align_corners=False)
    h, w = pre["image_size_hw"]
    x = x[:, :, :h, :w]
    return F.interpolate(x, size=bundle.frames.shape[1:3], mode="bilinear", align_corners=False)[0].numpy()


@pytest.mark.parametrize("window", [10, 3])
def test_instances_match_official(bundle, model_and_tokenizer, predictor_class, window, tmp_path):
    for tag, t, k in bundle.tags:
        result = run(bundle, model_and_tokenizer, predictor_class, tag, t, k, window=window, tmp_path=tmp_path)
        cls = bundle.npz(f"classification_{tag}.npz")
        ins = bundle.npz(f"instances_{tag}.npz")
        a = result.analysis
        assert_close(a.pooled.permute(0, 1, 2), cls["pooled_clip_feature"], what=f"{tag} pooled CLIP")
        assert_close(a.object_logits, cls["ii_mask_per_frame_object_logits"], what=f"{tag} tracked object logits")
        assert_close(result.class_scores, cls["ii_mask_cls_final_cls_score"], what=f"{tag} final scores")

        # Instances as a set (the official top-k is unsorted).
        theirs = {(int(q), int(l)): i for i, (q, l) in enumerate(zip(ins["topk_query_indices"], ins["pred_classes"]))}
        ours = {(inst.query, inst.label): inst for inst in result.instances}
        assert set(ours) == set(theirs), tag
        for key, i in theirs.items():
            inst = ours[key]
            assert inst.score == pytest.approx(float(ins["scores"][i]), rel=1e-4), (tag, key)
            np.testing.assert_array_equal(inst.present, ~ins["frame_ignored"][i], err_msg=f"{tag} {key}")
            assert_close(inst.frame_scores, ins["per_frame_object_scores_selected"][i], what=f"{tag} per-frame")
            assert inst.category_id == key[1] + 1  # ids count from 1 in the vocabulary's order

        # Masks at the frame size: equal except where the oracle's own logit is ~0
        # (our logits differ from the official ones by float rounding, ~1e-6).
        for inst_idx, inst in enumerate(result.instances):
            i = theirs[(inst.query, inst.label)]
            near_zero = np.abs(upsampled_oracle_logits(bundle, ins, i)) < 1e-3
            for f in range(result.num_frames):
                diff = result.mask(inst_idx, f) != ins["masks_output_size"][i, f]
                assert not (diff & ~near_zero[f]).any(), (tag, inst.query, f)


def test_window_size_changes_nothing_but_rounding(bundle, model_and_tokenizer, predictor_class):
    """Batch size changes only float rounding inside the convolutions (~1e-6),
    which can flip a pixel whose logit is ~0; nothing else."""
    tag, t, k = bundle.tags[0]
    a = run(bundle, model_and_tokenizer, predictor_class, tag, t, k, window=10)
    b = run(bundle, model_and_tokenizer, predictor_class, tag, t, k, window=1)
    assert [(i.query, i.label) for i in a.instances] == [(i.query, i.label) for i in b.instances]
    torch.testing.assert_close(a.analysis.pooled, b.analysis.pooled, rtol=1e-4, atol=1e-5)
    flipped = sum(int((a.frame_masks(f) != b.frame_masks(f)).sum()) for f in range(a.num_frames))
    total = a.num_frames * len(a.instances) * a.frame_hw[0] * a.frame_hw[1]
    assert flipped <= 1e-4 * total
