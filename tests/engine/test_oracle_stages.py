"""Every stage of the engine against the official implementation's outputs
(random weights, tiny CLIP, synthetic video; see ../shared/oracle/README.md),
through `CLIPVISModel.forward`, on the reference and the CPU backend."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clipvis.preprocess import resize_frame, to_model_input
from clipvis.text import TextEncoder
from clipvis.tracking import TopKMatcher
from clipvis.vocab import Vocabulary

from tests.engine.oracle_bundle import assert_close


@pytest.fixture(scope="module")
def outputs(bundle, model_and_tokenizer):
    model, _ = model_and_tokenizer
    x = torch.from_numpy(bundle.npz("preprocess.npz")["model_input_normalized_padded"])
    with torch.no_grad():
        out = model(x, with_aux=True, with_stages=True)  # CLIPVISModel.forward, as inference and training run it
    stages = out.stages
    return stages.features, stages.mask_features.dense(), stages.multi_scale, out.decoder


def test_preprocessing_matches_resize_normalise_pad(bundle):
    pre = bundle.npz("preprocess.npz")
    resized = [resize_frame(f, bundle.min_size) for f in bundle.frames]
    np.testing.assert_array_equal(np.stack(resized).transpose(0, 3, 1, 2), pre["resized_uint8_CHW"])
    x = to_model_input(resized)
    assert tuple(x.shape[-2:]) == tuple(pre["padded_hw"])
    assert_close(x, pre["model_input_normalized_padded"], what="model input")


def test_head_depth_is_read_from_checkpoint(bundle, model_and_tokenizer):
    model, _ = model_and_tokenizer
    layers = int(np.asarray(bundle.npz("decoder_per_frame.npz")["aux_pred_ious"]).shape[0])
    # The official decoder has DEC_LAYERS - 1 layers and one aux output per layer.
    assert model.head_cfg.dec_layers == layers


def test_backbone_taps(bundle, outputs):
    feats = outputs[0]
    ref = bundle.npz("backbone_features.npz")
    for name in ("stem", "res2", "res3", "res4", "res5", "clip_vis_dense"):
        assert_close(feats[name][:1], ref[f"frame0_{name}"], what=name)
    assert_close(feats["clip_vis_dense"], ref["clip_vis_dense_all_frames"], what="dense, all frames")
    assert_close(feats["res5"], ref["res5_all_frames"], what="res5, all frames")


def test_pixel_decoder(bundle, outputs):
    _, mask_features, multi_scale, _ = outputs
    ref = bundle.npz("pixel_decoder.npz")
    assert_close(mask_features, ref["mask_features"], what="mask features")
    for i, f in enumerate(multi_scale):
        assert_close(f[:1], ref[f"multi_scale_features_{i}_frame0"], what=f"multi-scale {i}")


def test_transformer_decoder(bundle, outputs):
    dec = outputs[3]
    ref = bundle.npz("decoder_per_frame.npz")
    assert_close(dec.object_logits, ref["pred_object_logits"], what="object logits")
    assert_close(dec.mask_logits, ref["pred_masks"], what="mask logits")
    assert_close(dec.ious, ref["pred_ious"][..., 0], what="ious")
    assert_close(dec.embeddings, ref["pred_embds"], what="embeddings")
    assert len(dec.aux) == ref["aux_pred_ious"].shape[0]
    for i, aux in enumerate(dec.aux):
        assert_close(aux["object_logits"], ref["aux_pred_object_logits"][i], what=f"aux {i} object logits")
        assert_close(aux["ious"], ref["aux_pred_ious"][i][..., 0], what=f"aux {i} ious")


def test_text_classifier(bundle, model_and_tokenizer, tmp_path):
    model, tokenizer = model_and_tokenizer
    ref = bundle.npz("text_classifier.npz")
    prompts = json.loads((bundle.root / "text_prompts.json").read_text())["prompts_in_order"]
    np.testing.assert_array_equal(tokenizer(prompts).numpy(), ref["tokens"])
    enc = TextEncoder(model.backbone.clip_model, tokenizer, cache_dir=tmp_path)
    assert_close(enc.encode_prompts(prompts), ref["text_features_raw"], what="raw text features")
    rows, per_class = enc.classifier(Vocabulary.from_names(bundle.vocab).synonyms)
    assert per_class == ref["num_templates"].tolist()
    assert_close(rows, ref["text_classifier"], what="text classifier")
    # Trimmed batches equal the full 77-token context.
    full = TextEncoder(model.backbone.clip_model, tokenizer, cache_dir=tmp_path / "full", trim=False)
    np.testing.assert_allclose(enc.encode_prompts(prompts[:20]), full.encode_prompts(prompts[:20]), atol=1e-5)


def test_tracking_permutations_on_decoder_outputs(bundle):
    embds = torch.from_numpy(bundle.npz("decoder_per_frame.npz")["pred_embds"])
    assert bundle.tags, "the bundle has no tracking configs"
    for tag, t, k in bundle.tags:
        ref = bundle.npz(f"tracking_{tag}.npz")
        matcher = TopKMatcher(memory_size=t, top_k=k)
        perms, small, lens = [], [], []
        for e in embds:
            lens.append(len(matcher.memory))
            perms.append(matcher(e))
            small.append(matcher.last_used_small_memory_rule)
        np.testing.assert_array_equal(np.stack(perms[1:]), ref["permutation_frames_1_to_T_minus_1"], err_msg=tag)
        np.testing.assert_array_equal(small[1:], ref["small_memory_branch"], err_msg=tag)
        np.testing.assert_array_equal(lens[1:], ref["memory_len"], err_msg=tag)


def test_tracking_on_synthetic_lookalikes(bundle):
    """Permutations far from the identity, where memory size and K matter."""
    ref = bundle.npz("tracking_synthetic.npz")
    embds = torch.from_numpy(ref["input_pred_embds"])
    tags = sorted({k[: -len("_permutations")] for k in ref.files if k.endswith("_permutations")})
    assert tags
    for tag in tags:
        t, k = (int(v) for v in tag[1:].split("_K"))
        matcher = TopKMatcher(memory_size=t, top_k=k)
        perms = [matcher(e) for e in embds][1:]
        np.testing.assert_array_equal(np.stack(perms), ref[f"{tag}_permutations"], err_msg=tag)
