"""VideoPredictor behaviour on a tiny random model: streaming, progress,
cancel, out-of-memory fallback, re-query, synonyms, bad input."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from clipvis import Cancelled, CPUVideoPredictor, EmptyVideoError, InferenceConfig, VideoPredictor, parse_vocabulary_text
from clipvis.classify import frame_class_logits
from clipvis.vocab import Vocabulary

from tests.conftest import moving_squares_video

VOCAB = parse_vocabulary_text("red square, green square|green box, background")


def test_progress_counts_frames_and_estimates_time(tiny_predictor):
    seen = []
    result = tiny_predictor.predict(list(moving_squares_video(7)), VOCAB, num_frames=7, progress=seen.append)
    assert [p.frames_done for p in seen] == [7]  # one window of 10
    assert result.num_frames == 7 and len(result.instances) == tiny_predictor.config.topk


def test_windows_stream_in_order(tiny_predictor, tiny_checkpoint):
    pred = VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                          config=InferenceConfig(min_size=64, topk=10, window=3),
                          text_cache_dir=tiny_predictor.text.cache_dir)
    state = pred.init_state()
    done = [p.frames_done for p in pred.propagate(list(moving_squares_video(8)), state, num_frames=8)]
    assert done == [3, 6, 8]
    analysis = pred.finish(state)
    assert analysis.num_frames == 8 and analysis.pooled.shape[:2] == (10, 8)


def test_cancel_stops_the_run(tiny_predictor):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tiny_predictor.predict(list(moving_squares_video(4)), VOCAB, cancel=cancel)


def test_out_of_memory_halves_the_batch_and_goes_on(tiny_predictor, monkeypatch):
    pred = VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                          config=InferenceConfig(min_size=64, topk=10, window=8, batch=8),
                          text_cache_dir=tiny_predictor.text.cache_dir)
    real = pred._run_batch
    sizes = []

    def flaky(frames, state):
        sizes.append(len(frames))
        if len(frames) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(frames, state)

    monkeypatch.setattr(pred, "_run_batch", flaky)
    frames = list(moving_squares_video(8))
    result = pred.predict(frames, VOCAB)
    assert sizes[:3] == [8, 4, 2] and pred._batch_cap == 2
    assert pred.init_state().batch == 2  # the next video starts at the batch that fitted
    reference = tiny_predictor.predict(frames, VOCAB)
    assert [(i.query, i.label) for i in result.instances] == [(i.query, i.label) for i in reference.instances]


def test_the_cpu_runs_a_window_in_small_batches(tiny_predictor, monkeypatch):
    """A window of 5 goes through the network as 2 + 2 + 1 frames on the CPU, with
    the same result as one batch of 5."""
    def run(batch):
        pred = CPUVideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                              config=InferenceConfig(min_size=64, topk=10, window=5, batch=batch),
                              text_cache_dir=tiny_predictor.text.cache_dir)
        sizes, real = [], pred._run_batch
        monkeypatch.setattr(pred, "_run_batch", lambda frames, state: sizes.append(len(frames)) or real(frames, state))
        return pred.predict(frames, VOCAB), sizes

    frames = list(moving_squares_video(5))
    (small, small_sizes), (whole, whole_sizes) = run(None), run(5)
    assert small_sizes == [2, 2, 1] and whole_sizes == [5]
    assert [(i.query, i.label) for i in small.instances] == [(i.query, i.label) for i in whole.instances]
    torch.testing.assert_close(small.analysis.pooled, whole.analysis.pooled, rtol=1e-4, atol=1e-5)


def test_requery_changes_labels_without_the_video(tiny_predictor):
    result = tiny_predictor.predict(list(moving_squares_video(5)), VOCAB)
    other = tiny_predictor.classify(result.analysis, parse_vocabulary_text("cat, dog, bird, fish"))
    assert other.analysis is result.analysis
    assert {i.name for i in other.instances} <= {"cat", "dog", "bird", "fish"}
    assert other.class_scores.shape == (tiny_predictor.model.num_queries, 4)


def test_synonyms_take_the_max(tiny_predictor):
    rows, per_class = tiny_predictor.text_classifier(Vocabulary.from_synonym_lists([["dog", "puppy"], ["cat"]]))
    assert per_class == [2, 1]
    pooled = torch.randn(3, 4, rows.shape[1])
    scale = tiny_predictor.model.backbone.clip_model.logit_scale.detach()
    logits = frame_class_logits(pooled, rows, per_class, scale)
    single = frame_class_logits(pooled, rows, [1, 1, 1], scale)
    torch.testing.assert_close(logits[..., 0], single[..., :2].max(-1).values)
    torch.testing.assert_close(logits[..., 1], single[..., 2])


def test_official_comma_synonyms():
    v = Vocabulary.from_names(["dog, puppy", "traffic light", "red_ball"])
    assert v.synonyms == [("dog", "puppy"), ("traffic light",), ("red_ball",)]


def test_mixed_frame_sizes_are_refused(tiny_predictor):
    frames = list(moving_squares_video(3))
    frames.append(np.zeros((50, 60, 3), np.uint8))
    with pytest.raises(ValueError, match="frame 3"):
        tiny_predictor.predict(frames, VOCAB)


@pytest.mark.parametrize("frame", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32)])
def test_non_rgb_frames_are_refused(tiny_predictor, frame):
    with pytest.raises(ValueError, match="RGB uint8"):
        tiny_predictor.predict([frame], VOCAB)


def test_zero_frames_is_a_clear_error(tiny_predictor):
    with pytest.raises(EmptyVideoError):
        tiny_predictor.predict([], VOCAB)


def test_bf16_autocast_runs_close_to_fp32(tiny_predictor):
    pred = VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                          config=InferenceConfig(min_size=64, topk=10, precision="bf16"),
                          text_cache_dir=tiny_predictor.text.cache_dir)
    frames = list(moving_squares_video(4))
    a = tiny_predictor.predict(frames, VOCAB).analysis
    b = pred.predict(frames, VOCAB).analysis
    assert b.pooled.dtype == torch.float32
    assert torch.allclose(a.ious, b.ious, atol=0.05)


def test_fp16_on_cpu_is_refused(tiny_predictor):
    with pytest.raises(ValueError, match="fp16"):
        VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                       config=InferenceConfig(precision="fp16"), device="cpu")


def test_provisional_results_between_windows(tiny_predictor):
    pred = VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                          config=InferenceConfig(min_size=64, topk=10, window=3),
                          text_cache_dir=tiny_predictor.text.cache_dir)
    state = pred.init_state()
    seen = []
    for p in pred.propagate(list(moving_squares_video(7)), state, num_frames=7):
        partial = pred.classify(pred.finish(state), VOCAB)  # what a UI shows while the run goes on
        seen.append(partial.num_frames)
    assert seen == [3, 6, 7]
    final = pred.classify(pred.finish(state), VOCAB)
    assert [(i.query, i.label) for i in final.instances] == [(i.query, i.label) for i in partial.instances]


def test_masks_compressed_on_a_worker_give_the_same_analysis(tiny_predictor):
    """overlap_encoding (the CUDA default) compresses a window's masks on a worker
    thread while the next window runs; the result must not depend on it."""
    frames = list(moving_squares_video(8))

    def analyse(overlap):
        pred = VideoPredictor(tiny_predictor.model, tokenizer=tiny_predictor.text.tokenizer,
                              config=InferenceConfig(min_size=64, topk=10, window=3, overlap_encoding=overlap),
                              text_cache_dir=tiny_predictor.text.cache_dir)
        analysis = pred.analyse(frames)
        assert (pred._encoder is not None) == overlap
        return analysis

    inline, worker = analyse(False), analyse(True)
    assert all(type(c).__name__ == "FrameMaskCode" for c in worker.mask_codes)
    for a, b in zip(inline.mask_codes, worker.mask_codes):
        assert a.sign_counts == b.sign_counts and a.band_counts == b.band_counts
        assert np.array_equal(a.values, b.values) and np.array_equal(a.offsets, b.offsets)
    assert torch.equal(inline.pooled, worker.pooled) and torch.equal(inline.pos_count, worker.pos_count)
