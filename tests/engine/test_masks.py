"""The compressed mask store decodes to exactly the masks of the raw logits."""
import numpy as np
import pytest
import torch

from clipvis.masks import FrameMaskCode, logits_to_frame_masks


@pytest.mark.parametrize("frame_hw,input_hw,padded_hw", [
    ((240, 320), (200, 267), (224, 288)),  # upscaling to the frame
    ((120, 160), (200, 267), (224, 288)),  # downscaling to the frame
    ((481, 853), (480, 851), (480, 864)),  # odd sizes
])
@pytest.mark.parametrize("smooth", [True, False])
def test_codec_is_exact_after_upsampling(frame_hw, input_hw, padded_hw, smooth):
    g = torch.Generator().manual_seed(0)
    q, h, w = 6, padded_hw[0] // 4, padded_hw[1] // 4
    logits = torch.randn(q, h, w, generator=g)
    if smooth:  # object-like ellipses: most pixels far from a sign change
        ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
        centre = torch.rand(q, 2, generator=g) * torch.tensor([h, w])
        radius = (0.1 + 0.3 * torch.rand(q, 1, 1, generator=g)) * min(h, w)
        dist2 = (ys - centre[:, :1, None]) ** 2 + (xs - centre[:, 1:, None]) ** 2
        logits = 4 * (1 - dist2 / radius**2) + 0.01 * logits
    code = FrameMaskCode.encode(logits)
    for queries in (None, [4, 1]):
        raw = logits if queries is None else logits[queries]
        dec = code.decode(queries)
        a = logits_to_frame_masks(dec, input_hw=input_hw, padded_hw=padded_hw, frame_hw=frame_hw)
        b = logits_to_frame_masks(raw, input_hw=input_hw, padded_hw=padded_hw, frame_hw=frame_hw)
        assert torch.equal(a, b)
        assert torch.equal(dec > 0, raw > 0)
    if smooth:
        assert code.nbytes < logits.numel() * 4 / 2  # it is a compression


def test_empty_selection():
    code = FrameMaskCode.encode(torch.randn(3, 8, 8))
    assert code.decode([]).shape == (0, 8, 8)


def test_saved_analysis_leaves_out_the_mask_cache(tiny_predictor, tmp_path):
    from tests.conftest import moving_squares_video
    from clipvis import parse_vocabulary_text
    result = tiny_predictor.predict(list(moving_squares_video(3)), parse_vocabulary_text("a, b"))
    before = result.frame_masks(1)
    assert len(result.analysis._frame_cache) > 0
    torch.save(result.analysis, tmp_path / "a.pt")
    loaded = torch.load(tmp_path / "a.pt", weights_only=False)
    assert len(loaded._frame_cache) == 0 and len(result.analysis._frame_cache) > 0
    masks = loaded.query_masks(1, [i.query for i in result.instances])
    np.testing.assert_array_equal(masks[[i.present[1] for i in result.instances]], before[[i.present[1] for i in result.instances]])
