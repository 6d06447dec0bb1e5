"""A VideoAnalysis stored without pickle: masks decode identically, the file
is smaller, classification moves only within the stated tolerance, and a file
that is not ours is refused without running anything from it."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from clipvis import analysis_io
from clipvis.classify import classify_analysis
from clipvis.masks import FrameMaskCode, logits_to_frame_masks
from clipvis.structures import VideoAnalysis, VideoMeta
from clipvis.vocab import Vocabulary

# Classification of the stored analysis (fp16 pooled vectors) against the
# original: the largest difference of a final (query, class) score.
SCORE_TOLERANCE = 2e-3

GEOMETRIES = [  # (frame_hw, input_hw, padded_hw)
    ((480, 640), (480, 640), (480, 640)),  # the frame is the model input
    ((240, 320), (200, 267), (224, 288)),  # the frame is larger than the input
    ((120, 160), (200, 267), (224, 288)),  # smaller
    ((481, 853), (480, 851), (480, 864)),  # odd sizes
]


def synthetic_logits(g, q, h, w, smooth: bool) -> torch.Tensor:
    noise = torch.randn(q, h, w, generator=g)
    if not smooth:  # what a model with random weights gives: sign changes everywhere
        return noise * 3
    ys, xs = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    centre = torch.rand(q, 2, generator=g) * torch.tensor([h, w])
    radius = (0.1 + 0.3 * torch.rand(q, 1, 1, generator=g)) * min(h, w)
    dist2 = (ys - centre[:, :1, None]) ** 2 + (xs - centre[:, 1:, None]) ** 2
    return 4 * (1 - dist2 / radius**2) + 0.05 * noise


def synthetic_analysis(geometry, *, frames=3, q=6, dim=16, smooth=True, seed=0) -> VideoAnalysis:
    frame_hw, input_hw, padded_hw = geometry
    g = torch.Generator().manual_seed(seed)
    h, w = padded_hw[0] // 4, padded_hw[1] // 4
    codes = [FrameMaskCode.encode(synthetic_logits(g, q, h, w, smooth)) for _ in range(frames)]
    return VideoAnalysis(
        meta=VideoMeta(num_frames=frames, frame_hw=frame_hw, input_hw=input_hw, padded_hw=padded_hw),
        object_logits=torch.randn(q, frames, 2, generator=g), ious=torch.rand(q, frames, generator=g),
        pooled=torch.randn(q, frames, dim, generator=g), pool_empty=torch.rand(q, frames, generator=g) < 0.1,
        pos_sigmoid_sum=torch.rand(q, frames, generator=g) * 50, pos_count=torch.rand(q, frames, generator=g) * 80,
        mask_codes=codes)


def decoded_nonempty(analysis) -> np.ndarray:
    return np.stack([analysis.query_masks(t, range(analysis.num_queries)).reshape(analysis.num_queries, -1).any(1)
                     for t in range(analysis.num_frames)], 1)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("smooth", [True, False])
def test_masks_decode_identically_after_a_round_trip(tmp_path, geometry, smooth):
    original = synthetic_analysis(geometry, smooth=smooth)
    path = analysis_io.save(analysis_io.compact(original), tmp_path / "a.safetensors")
    loaded = analysis_io.load(path)
    assert analysis_io.mask_mismatches(original, loaded.analysis) == []
    assert np.array_equal(loaded.mask_nonempty, decoded_nonempty(original))
    # Fewer values, mostly half as wide: the masks' part is smaller.
    raw = sum(c.nbytes for c in original.mask_codes)
    new = sum(len(c.sign_counts) + len(c.band_counts) for c in loaded.analysis.mask_codes)
    new += sum(c.values.size for c in loaded.analysis.mask_codes) * 2
    assert new < raw * (0.75 if smooth else 0.85)


def test_a_real_analysis_round_trips(tmp_path, tiny_predictor):
    from tests.conftest import moving_squares_video

    original = tiny_predictor.analyse(iter(moving_squares_video(6)), num_frames=6)
    stored = analysis_io.compact(original)
    assert analysis_io.mask_mismatches(original, stored.analysis) == []
    loaded = analysis_io.load(analysis_io.save(stored, tmp_path / "run.safetensors"))
    assert analysis_io.mask_mismatches(original, loaded.analysis) == []
    assert np.array_equal(loaded.mask_nonempty, decoded_nonempty(original))
    for name in ("object_logits", "ious", "pool_empty", "pos_sigmoid_sum", "pos_count"):
        assert torch.equal(getattr(loaded.analysis, name), getattr(original, name)), name
    assert loaded.analysis.pooled.dtype == torch.float16
    assert torch.equal(loaded.analysis.pooled, stored.analysis.pooled)
    assert loaded.analysis.meta == original.meta


def test_special_values_keep_their_masks(tmp_path):
    """Logits a model should not give, but which must not break exactness:
    exact zeros, tiny and huge magnitudes, infinities and NaN."""
    geometry = GEOMETRIES[1]
    g = torch.Generator().manual_seed(3)
    logits = synthetic_logits(g, 4, 56, 72, smooth=True)
    logits[0, 10:20, 10:20] = 0.0
    logits[1, 5:9, 5:40] = 1e-38
    logits[1, 9:12, 5:40] = -7e4
    logits[2, 30:33, 30:33] = float("inf")
    logits[3, 40:42, 40:60] = float("nan")
    logits[3, 20:22, 20:60] = 1e-6
    base = synthetic_analysis(geometry, frames=1, q=4)
    analysis = VideoAnalysis(meta=base.meta, object_logits=base.object_logits, ious=base.ious, pooled=base.pooled,
                             pool_empty=base.pool_empty, pos_sigmoid_sum=base.pos_sigmoid_sum,
                             pos_count=base.pos_count, mask_codes=[FrameMaskCode.encode(logits)])
    loaded = analysis_io.load(analysis_io.save(analysis_io.compact(analysis), tmp_path / "x.safetensors"))
    assert analysis_io.mask_mismatches(analysis, loaded.analysis) == []


def test_the_check_resizes_as_the_decode_does():
    g = torch.Generator().manual_seed(1)
    for frame_hw, input_hw, padded_hw in GEOMETRIES:
        meta = VideoMeta(num_frames=1, frame_hw=frame_hw, input_hw=input_hw, padded_hw=padded_hw)
        x = torch.randn(3, padded_hw[0] // 4, padded_hw[1] // 4, generator=g)
        assert torch.equal(analysis_io._resize(x, meta) > 0,
                           logits_to_frame_masks(x, input_hw=input_hw, padded_hw=padded_hw, frame_hw=frame_hw))


def test_classification_of_the_stored_analysis_is_within_tolerance(tmp_path):
    original = synthetic_analysis(GEOMETRIES[2], frames=12, q=20, dim=64)
    loaded = analysis_io.load(analysis_io.save(analysis_io.compact(original), tmp_path / "a.safetensors")).analysis
    vocab = Vocabulary.from_names([f"class {i}" for i in range(8)])
    rows = torch.nn.functional.normalize(torch.randn(8, 64, generator=torch.Generator().manual_seed(5)), dim=-1)

    def classify(a):
        return classify_analysis(a, vocab, text_rows=rows, synonyms_per_class=[1] * 8,
                                 logit_scale=torch.tensor(np.log(100.0)), topk=10)

    a, b = classify(original), classify(loaded)
    assert np.abs(a.class_scores - b.class_scores).max() <= SCORE_TOLERANCE
    assert {(i.query, i.label) for i in a.instances[:5]} == {(i.query, i.label) for i in b.instances[:5]}
    # Classifying what is stored is deterministic: the same before and after a restart.
    again = analysis_io.load(tmp_path / "a.safetensors").analysis
    assert np.array_equal(classify(again).class_scores, b.class_scores)


def test_saving_again_what_was_loaded_keeps_it(tmp_path):
    original = synthetic_analysis(GEOMETRIES[2])
    first = analysis_io.load(analysis_io.save(analysis_io.compact(original), tmp_path / "1.safetensors"))
    second = analysis_io.load(analysis_io.save(first, tmp_path / "2.safetensors"))
    assert analysis_io.mask_mismatches(original, second.analysis) == []
    assert np.array_equal(first.mask_nonempty, second.mask_nonempty)


class _Marker:
    """Unpickling this would create a file: it must never be unpickled."""

    path = None

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_or_a_damaged_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran.txt"
    _Marker.path = marker
    evil = tmp_path / "analysis.safetensors"
    evil.write_bytes(pickle.dumps(_Marker()))
    with pytest.raises(analysis_io.AnalysisFileError, match="cannot be read"):
        analysis_io.load(evil)
    assert not marker.exists()

    good = analysis_io.save(analysis_io.compact(synthetic_analysis(GEOMETRIES[0], frames=1)), tmp_path / "g.safetensors")
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(good.read_bytes()[:-100])
    with pytest.raises(analysis_io.AnalysisFileError):
        analysis_io.load(cut)
