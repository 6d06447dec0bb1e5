"""The C kernels against their PyTorch definitions: deformable sampling against
grid_sample, Winograd against a float64 convolution, the masks' pixel work
against the tensor ops; and the other CPU
inference shortcuts (folded mask features, strided downsampling, cached
position encodings) against what they replace."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import clipvis.masks as masks
import clipvis.modeling.pixel_decoder as pixel_decoder
import clipvis.native.winograd as winograd
from clipvis.modeling.deform_attn import ms_deform_attn
from clipvis.modeling.mask_features import MaskFeatures, resize_bilinear
from clipvis.modeling.position_encoding import PositionEmbeddingSine
from clipvis.native import (deform_sample, load_library, native_sampling_available, winograd_available,
                            winograd_conv3x3)

needs_sampler = pytest.mark.skipif(not native_sampling_available(), reason="no C compiler")
needs_winograd = pytest.mark.skipif(not winograd_available(), reason="no C compiler")


def _sampling_case(shapes, *, n=2, heads=4, points=3, dim=8, spread=1.5, seed=0):
    """Random values and positions, in both layouts: the kernel's and ms_deform_attn's."""
    g = torch.Generator().manual_seed(seed)
    levels, tokens = len(shapes), sum(h * w for h, w in shapes)
    value = torch.randn(n, tokens, heads * dim, generator=g)
    # Positions in [0, 1] (grid_sample's frame), some well outside the maps.
    loc = torch.rand(n, tokens, heads, levels, points, 2, generator=g) * (1 + 2 * spread) - spread
    logits = torch.randn(n * tokens, heads, levels * points, generator=g)
    size = torch.tensor([[w, h] for h, w in shapes], dtype=torch.float32).view(1, 1, 1, levels, 1, 2)
    pixels = (loc * size - 0.5).permute(0, 1, 5, 2, 3, 4).reshape(n * tokens, -1)  # (xy, head, level, point)
    ref = ms_deform_attn(value.view(n, tokens, heads, dim).permute(0, 2, 3, 1), shapes, loc,
                         logits.softmax(-1).view(n, tokens, heads, levels, points))
    return value, pixels, logits.view(n * tokens, -1), ref.reshape(n * tokens, -1)


@needs_sampler
@pytest.mark.parametrize(("shapes", "dim"), [
    ([(3, 5), (6, 10), (12, 20)], 32),  # the usual head width: the unrolled path
    ([(1, 1), (2, 3), (7, 2)], 8),      # 1-pixel and tall levels, another width
    ([(9, 16)], 12),
])
def test_sampler_equals_grid_sample(shapes, dim):
    value, pixels, logits, ref = _sampling_case(shapes, dim=dim)
    out = deform_sample(value, shapes, pixels, logits, n_heads=4, rows_per_sample=value.shape[1])
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


@needs_sampler
def test_sampler_reads_strided_rows_and_adds_the_reference():
    """Offsets and logits as two column ranges of one product, and reference points
    shared by every sample: the encoder's way of calling it."""
    shapes = [(4, 6), (8, 12)]
    value, pixels, logits, ref = _sampling_case(shapes, n=3)
    tokens = value.shape[1]
    reference = torch.randn(tokens, pixels.shape[1])
    joint = torch.cat((pixels - reference.repeat(3, 1), logits), 1)
    k = pixels.shape[1]
    out = deform_sample(value, shapes, joint[:, :k], joint[:, k:], n_heads=4, rows_per_sample=tokens,
                        reference=reference)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)


@needs_sampler
def test_sampler_is_memory_safe_on_nan_and_huge_positions():
    shapes = [(3, 5), (6, 10)]
    value, pixels, logits, ref = _sampling_case(shapes, n=1)
    pixels[0] = float("nan")
    pixels[1] = 1e30
    pixels[2] = -1e30
    out = deform_sample(value, shapes, pixels, logits, n_heads=4, rows_per_sample=value.shape[1])
    assert out[0].isnan().all()
    assert (out[1:3] == 0).all()  # every point outside the maps reads zeros
    torch.testing.assert_close(out[3:], ref[3:], rtol=1e-4, atol=1e-5)


@needs_sampler
@pytest.mark.parametrize(("change", "error"), [
    (lambda v, p, lg: (v.double(), p, lg), TypeError),
    (lambda v, p, lg: (v, p[:, :-1], lg), ValueError),
    (lambda v, p, lg: (v, p, lg[:-1]), ValueError),
    (lambda v, p, lg: (v[:, :-1], p, lg), ValueError),
])
def test_sampler_rejects_inconsistent_input(change, error):
    shapes = [(3, 5)]
    value, pixels, logits, _ = _sampling_case(shapes, n=1)
    value, pixels, logits = change(value, pixels, logits)
    with pytest.raises(error):
        deform_sample(value, shapes, pixels, logits, n_heads=4, rows_per_sample=15)


@needs_sampler
def test_sampler_rejects_more_points_than_it_holds():
    shapes = [(2, 2)]
    value, pixels, logits, _ = _sampling_case(shapes, n=1, heads=1, points=300)
    with pytest.raises(ValueError, match="256"):
        deform_sample(value, shapes, pixels, logits, n_heads=1, rows_per_sample=4)


@needs_winograd
@pytest.mark.parametrize("m", [2, 4])
@pytest.mark.parametrize(("n", "c", "k", "h", "w", "band"), [
    (2, 64, 32, 24, 40, 512),  # whole tiles, one band
    (3, 40, 24, 13, 17, 7),    # cut tiles, channels off the 64-block, many short bands
    (1, 8, 8, 1, 1, 512),      # a 1-pixel map
])
def test_winograd_equals_convolution(m, n, c, k, h, w, band, monkeypatch):
    monkeypatch.setattr(winograd, "TILES_PER_BAND", band)
    torch.manual_seed(0)
    x, weight = torch.randn(n, c, h, w), torch.randn(k, c, 3, 3) / (3 * c ** 0.5)
    out = winograd_conv3x3(x, weight, m=m)
    ref = F.conv2d(x.double(), weight.double(), padding=1).float()
    assert out.shape == ref.shape and out.is_contiguous(memory_format=torch.channels_last)
    # m = 2 is as accurate as a direct float32 convolution; m = 4 a few times less.
    torch.testing.assert_close(out, ref, rtol=0, atol=(2e-5 if m == 2 else 1e-4) * ref.abs().max().item())


@needs_winograd
def test_winograd_sees_a_changed_filter():
    """The transformed filters are cached per weight tensor, and dropped when it changes in place."""
    torch.manual_seed(1)
    x, weight = torch.randn(1, 16, 8, 8), torch.randn(16, 16, 3, 3)
    winograd_conv3x3(x, weight, m=2)
    with torch.no_grad():
        weight.mul_(-2)
    torch.testing.assert_close(winograd_conv3x3(x, weight, m=2), F.conv2d(x, weight, padding=1), rtol=1e-4,
                               atol=1e-4)


@needs_winograd
def test_fpn_convolution_uses_winograd_only_at_cpu_inference(monkeypatch):
    conv = pixel_decoder.NormConv2d(16, 16, kernel_size=3, padding=1, bias=True,
                                    norm=torch.nn.GroupNorm(4, 16), relu=True)
    torch.nn.init.normal_(conv.bias)
    x = torch.randn(2, 16, 9, 11)
    calls = []
    real = pixel_decoder.winograd_conv3x3
    monkeypatch.setattr(pixel_decoder, "winograd_conv3x3", lambda *a, **k: calls.append(1) or real(*a, **k))
    with torch.no_grad():
        fast = conv(x)
    assert calls == [1]
    direct = conv(x)  # autograd on: the direct convolution
    assert calls == [1]
    torch.testing.assert_close(fast, direct.detach(), rtol=1e-4, atol=1e-5)


def test_folded_mask_features_equal_the_applied_conv():
    torch.manual_seed(2)
    fpn = torch.randn(2, 16, 24, 40).contiguous(memory_format=torch.channels_last)
    conv = torch.nn.Conv2d(16, 12, kernel_size=1)
    folded = MaskFeatures(fpn, conv.weight.detach().flatten(1), conv.bias.detach())
    with torch.no_grad():
        applied = conv(fpn)
    embed = torch.randn(2, 5, 12)
    torch.testing.assert_close(folded.materialize(), applied)
    torch.testing.assert_close(folded.project(embed), torch.einsum("bqc,bchw->bqhw", embed, applied),
                               rtol=1e-4, atol=1e-5)
    small = torch.einsum("bqc,bchw->bqhw", embed, F.interpolate(applied, size=(6, 10), mode="bilinear"))
    torch.testing.assert_close(folded.resized((6, 10)).project(embed), small, rtol=1e-4, atol=1e-5)


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


@pytest.mark.skipif(load_library("mask_pixels") is None, reason="no C compiler")
@pytest.mark.parametrize("shape", [(7, 24, 40), (3, 1, 1), (2, 1, 9), (2, 9, 1), (4, 3, 4)])
def test_mask_pixels_equal_the_tensor_ops(shape, monkeypatch):
    """Sign, band (every width, including maps narrower than the band), values and counts."""
    torch.manual_seed(3)
    logits = F.interpolate(torch.randn(1, shape[0], 4, 5), size=shape[1:], mode="bilinear")[0]
    logits[0] = 1.0  # all positive: no band
    if shape[0] > 2:
        logits[1] = -1.0  # none positive
        logits[2].view(-1)[0] = float("nan")  # counts as not positive
    native = masks.FramePixels.of(logits)
    monkeypatch.setattr(masks, "mask_pixels", lambda *a, **k: None)
    ref = masks.FramePixels.of(logits)
    for field in ("sign", "band", "values"):
        a, b = getattr(native, field), getattr(ref, field)
        assert a.shape == b.shape and a.flags["F_CONTIGUOUS"] == b.flags["F_CONTIGUOUS"]
        assert np.array_equal(a, b, equal_nan=True), field
    assert native.counts == ref.counts and native.shape == ref.shape


@needs_sampler
def test_sampler_without_openmp_splits_rows_over_python_threads(monkeypatch):
    """A build without OpenMP (e.g. Apple's clang) is called on row ranges from several threads."""
    import clipvis.native.sampling as sampling

    lib = sampling._library()

    class SerialBuild:
        ranges = []

        def deform_sample_parallel(self):
            return 0

        def deform_sample(self, *args):
            self.ranges.append((args[9], args[10]))
            return lib.deform_sample(*args)

    shapes = [(4, 6), (8, 12)]
    value, pixels, logits, ref = _sampling_case(shapes, n=4)  # 480 rows: 3 threads of at least 128
    monkeypatch.setattr(sampling, "_library", SerialBuild)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 3)
    out = deform_sample(value, shapes, pixels, logits, n_heads=4, rows_per_sample=value.shape[1])
    assert sorted(SerialBuild.ranges) == [(0, 160), (160, 320), (320, 480)]
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
