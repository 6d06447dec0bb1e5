"""The CPU backend (clipvis/backends): swapped modules against the reference ones,
the model's single forward path, and the heap setting scoped to a video pass."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from clipvis import heap, load_predictor, parse_vocabulary_text
from clipvis.backends import CPUVideoPredictor, use_cpu_modules, uses_cpu_modules
from clipvis.backends.cpu_modules import FactoredMaskFeatures
from clipvis.build import create_clip, register_clip_config
from clipvis.modeling import CLIPVISModel, HeadConfig, MaskFeatures
from clipvis.modeling.mask_features import resize_bilinear
from clipvis.modeling.position_encoding import PositionEmbeddingSine
from clipvis.predictor import VideoPredictor

from tests.conftest import REPO, TINY_HEAD, moving_squares_video

VOCAB = parse_vocabulary_text("red square, green square")


def tiny_model(clip_config, seed=0):
    torch.manual_seed(seed)
    clip, tok = create_clip(register_clip_config(clip_config))
    return CLIPVISModel(clip_model=clip, head_cfg=HeadConfig(**TINY_HEAD)).eval(), tok


def test_swapping_keeps_every_parameter_and_key(tiny_clip_config):
    model, _ = tiny_model(tiny_clip_config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    classes = [type(m).__name__ for m in model.modules()]
    use_cpu_modules(use_cpu_modules(model))  # twice: the second changes nothing
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(before[k], after[k]) for k in before)
    swapped = [(a, type(m).__name__) for a, m in zip(classes, model.modules()) if a != type(m).__name__]
    assert sorted(b for _, b in swapped) == sorted(
        ["GatherMSDeformAttn"] * TINY_HEAD["enc_layers"] + ["CPUEncoderLayer"] * TINY_HEAD["enc_layers"]
        + ["CPUDeformEncoder", "CPUPixelDecoder"])
    assert uses_cpu_modules(model)


def reference_and_cpu(clip_config):
    """Two models with the same weights: as written, and with the CPU modules."""
    return tiny_model(clip_config)[0], use_cpu_modules(tiny_model(clip_config)[0])


def test_cpu_forward_equals_reference_forward(tiny_clip_config):
    """One forward, two module sets: the same outputs up to float rounding, and the
    mask features come back as the same kind of object (a MaskFeatures)."""
    reference, cpu = reference_and_cpu(tiny_clip_config)
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        a = reference(x, with_stages=True)
        b = cpu(x, with_stages=True)
    assert isinstance(b.stages.mask_features, FactoredMaskFeatures)
    assert isinstance(a.stages.mask_features, MaskFeatures)
    torch.testing.assert_close(b.stages.mask_features.dense(), a.stages.mask_features.dense(), rtol=1e-4, atol=1e-5)
    for name in ("object_logits", "mask_logits", "ious", "embeddings"):
        torch.testing.assert_close(getattr(b.decoder, name), getattr(a.decoder, name), rtol=1e-4, atol=1e-4)


def test_with_autograd_the_cpu_modules_are_the_reference(tiny_clip_config):
    reference, cpu = reference_and_cpu(tiny_clip_config)
    x = torch.randn(1, 3, 64, 96)
    a, b = reference(x, with_aux=True), cpu(x, with_aux=True)
    assert b.decoder.mask_logits.requires_grad
    assert torch.equal(a.decoder.mask_logits, b.decoder.mask_logits)


def test_modeling_holds_no_device_or_mode_dispatch():
    """The model is the official formulation only: no branch on the device or on
    autograd, no isinstance on what a stage returned (the backends do that)."""
    for path in sorted((REPO / "clipvis" / "modeling").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"\.is_cpu\b|is_grad_enabled\(\)\s*(and|or|:)|isinstance\(\w+, MaskFeatures\)|"
                             r"native|cpu_inference", text), path.name


def test_factored_mask_features_equal_the_applied_conv():
    torch.manual_seed(2)
    fpn = torch.randn(2, 16, 24, 40).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(16, 12, kernel_size=1)
    folded = FactoredMaskFeatures(fpn, conv.weight.detach().flatten(1), conv.bias.detach())
    with torch.no_grad():
        applied = MaskFeatures(conv(fpn).contiguous())
    embed = torch.randn(2, 5, 12)
    torch.testing.assert_close(folded.dense(), applied.dense())
    torch.testing.assert_close(folded.project(embed), applied.project(embed), rtol=1e-4, atol=1e-5)
    small = torch.einsum("bqc,bchw->bqhw", embed, F.interpolate(applied.dense(), size=(6, 10), mode="bilinear"))
    torch.testing.assert_close(folded.resized((6, 10)).project(embed), small, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(applied.resized((6, 10)).project(embed), small, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("size", [(12, 20), (6, 10), (3, 5), (8, 8), (5, 13)])
def test_strided_downsampling_equals_bilinear_interpolation(size):
    x = torch.randn(2, 7, 24, 40)
    torch.testing.assert_close(resize_bilinear(x, size),
                               F.interpolate(x, size=size, mode="bilinear", align_corners=False),
                               rtol=0, atol=1e-6)


def test_position_encoding_is_cached_per_size():
    """Computed once per size: a second batch of the same size is a cache hit, and the
    values are the normalised sine/cosine of each row's and column's position."""
    from clipvis.modeling.position_encoding import _sine_encoding

    pe, h, w = PositionEmbeddingSine(8), 5, 7
    _sine_encoding.cache_clear()
    first = pe(torch.zeros(1, 1, h, w))
    a = pe(torch.zeros(3, 1, h, w))
    assert _sine_encoding.cache_info().hits == 1 and a.shape == (3, 16, h, w)
    y = (torch.arange(h, dtype=torch.float32) + 1) / (h + 1e-6) * 2 * torch.pi
    x = (torch.arange(w, dtype=torch.float32) + 1) / (w + 1e-6) * 2 * torch.pi
    # Channels 0 and 1 of each half have frequency 1: sin and cos of the position.
    torch.testing.assert_close(a[2, 0], y.sin()[:, None].expand(h, w))
    torch.testing.assert_close(a[1, 1], y.cos()[:, None].expand(h, w))
    torch.testing.assert_close(a[0, 8], x.sin()[None].expand(h, w))
    assert torch.equal(first[0], a[2])
    assert pe(torch.zeros(1, 1, 6, 7)).shape == (1, 16, 6, 7) and _sine_encoding.cache_info().misses == 2


def test_load_predictor_picks_the_backend(tiny_checkpoint, tiny_clip_config):
    cpu = load_predictor(str(tiny_checkpoint), clip_config=str(tiny_clip_config), device="cpu")
    assert type(cpu) is CPUVideoPredictor and uses_cpu_modules(cpu.model)
    ref = load_predictor(str(tiny_checkpoint), clip_config=str(tiny_clip_config), device="cpu", backend="reference")
    assert type(ref) is VideoPredictor and not uses_cpu_modules(ref.model)
    with pytest.raises(ValueError, match="backend"):
        load_predictor(str(tiny_checkpoint), clip_config=str(tiny_clip_config), device="cpu", backend="fast")


def test_heap_setting_holds_only_during_a_pass(tiny_predictor):
    """The process-wide malloc setting is a scope: on while a CPU pass runs
    (between its windows too), off before and after, also after a failed pass."""
    pred = CPUVideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                             config=tiny_predictor.config.replace(window=2), text_cache_dir=tiny_predictor.text.cache_dir)
    assert not heap.keeping_freed_memory()
    state = pred.init_state()
    during = [heap.keeping_freed_memory() for _ in pred.propagate(list(moving_squares_video(5)), state)]
    assert during == [True, True, True] and not heap.keeping_freed_memory()
    frames = list(moving_squares_video(3)) + ["not a frame"]
    with pytest.raises(ValueError):
        pred.predict(frames, VOCAB)
    assert not heap.keeping_freed_memory()
    # The reference predictor leaves the heap alone.
    ref = VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer, config=tiny_predictor.config,
                         text_cache_dir=tiny_predictor.text.cache_dir)
    seen = [heap.keeping_freed_memory() for _ in ref.propagate(list(moving_squares_video(2)), ref.init_state())]
    assert seen == [False]


def test_concurrent_scopes_restore_once():
    entered, leave = threading.Event(), threading.Event()

    def hold():
        with heap.keep_freed_memory():
            entered.set()
            leave.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    entered.wait(5)
    with heap.keep_freed_memory():
        assert heap.keeping_freed_memory()
    assert heap.keeping_freed_memory()  # the other pass still holds it
    leave.set()
    t.join()
    assert not heap.keeping_freed_memory()


def test_no_compiled_code_in_the_package():
    assert not list((REPO / "clipvis").rglob("*.c")) and not (REPO / "clipvis" / "native").exists()
    assert not [p for p in (REPO / "clipvis").rglob("*.py") if "ctypes.CDLL(" in p.read_text()
                and p != REPO / "clipvis" / "heap.py"], "only heap.py looks up the already-loaded C library"
    assert Path(REPO / "clipvis" / "heap.py").read_text().count("ctypes.CDLL(") == 1
