"""The Python API: keyword settings, what `predict` accepts, per-call settings
that leave a shared predictor alone, messages in the caller's terms, and the
in-memory demo model."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from clipvis import DEMO, InferenceConfig, WeightsUnavailable, load_predictor, open_video, parse_vocabulary_text
from clipvis.commands import main
from clipvis.formats.overlay import write_overlay_video

from tests.conftest import moving_squares_video

VOCAB = parse_vocabulary_text("red square, green square")


@pytest.fixture(scope="module")
def demo():
    return load_predictor(DEMO, device="cpu", min_size=64, topk=5)


def test_settings_are_keywords(demo):
    assert demo.config == InferenceConfig(min_size=64, topk=5)
    with pytest.raises(TypeError, match="unknown inference setting.*min_sise.*known: min_size"):
        load_predictor(DEMO, device="cpu", min_sise=64)
    with pytest.raises(ValueError, match="`window` must be an integer >= 1, got 0"):
        InferenceConfig(window=0)


def test_predict_takes_a_path_a_video_or_frames(demo, tmp_path):
    frames = moving_squares_video(5)
    path = write_overlay_video(tmp_path / "clip.mp4", iter(frames), fps=5)
    by_path = demo.predict(str(path), VOCAB)
    by_video = demo.predict(open_video(path), VOCAB)
    by_frames = demo.predict([f for _, f in open_video(path)], VOCAB)
    assert by_path.num_frames == by_video.num_frames == by_frames.num_frames == 5
    assert torch.equal(by_path.analysis.pooled, by_video.analysis.pooled)
    assert torch.equal(by_path.analysis.pooled, by_frames.analysis.pooled)
    with pytest.raises(ValueError, match=r"\(index, frame\) pairs: pass the video that `open_video` returned"):
        demo.predict(iter(open_video(path)), VOCAB)
    seen = []
    demo.predict(open_video(path), VOCAB, progress=seen.append)
    assert seen[-1].num_frames == 5  # the video's own length, without num_frames=


def test_per_call_settings_leave_the_predictor_alone(demo):
    frames = list(moving_squares_video(3))
    small = demo.analyse(frames, min_size=48)
    assert min(small.meta.input_hw) == 48 and demo.config.min_size == 64
    assert min(demo.analyse(frames).meta.input_hw) == 64
    result = demo.predict(frames, VOCAB, topk=2)
    assert len(result.instances) == 2 and demo.config.topk == 5
    with pytest.raises(TypeError, match="unknown inference setting"):
        demo.analyse(frames, nonsense=1)


def test_offline_message_speaks_of_arguments_in_python_and_flags_on_the_cli(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path))
    with pytest.raises(WeightsUnavailable) as e:
        load_predictor("clipvis_r50_lvis", device="cpu")
    assert "pass its path as `checkpoint`" in str(e.value) and "--checkpoint" not in str(e.value)
    video = write_overlay_video(tmp_path / "clip.mp4", iter(moving_squares_video(2)), fps=5)
    code = main(["predict", "--video", str(video), "--vocab", "person", "--model", "clipvis_r50_lvis",
                 "--out", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1 and "pass its path as --checkpoint" in err and "`checkpoint`" not in err


def test_demo_model_is_the_same_every_time_and_leaves_the_rng_alone():
    from clipvis.demo import build_demo_model
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _, _ = build_demo_model()
    assert torch.equal(torch.rand(1), before)  # the caller's random stream is untouched
    b, _, _ = build_demo_model()
    sa, sb = a.state_dict(), b.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert a.num_queries == 20


def test_demo_runs_from_the_command_line(tmp_path):
    import json
    frames = moving_squares_video(4)
    path = write_overlay_video(tmp_path / "clip.mp4", iter(frames), fps=5)
    out = tmp_path / "r.json"
    assert main(["predict", "--video", str(path), "--vocab", "square, circle", "--model", DEMO,
                 "--min-size", "64", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results and all(len(r["segmentations"]) == 4 for r in results)


def test_inference_flags_come_from_the_config():
    import argparse

    from clipvis.commands.model_args import add_model_arguments, inference_config
    p = argparse.ArgumentParser()
    add_model_arguments(p)
    assert inference_config(p.parse_args([])) == InferenceConfig()
    args = p.parse_args(["--memory", "3", "--min-size", "200", "--precision", "bf16"])
    assert inference_config(args) == dataclasses.replace(InferenceConfig(), memory_size=3, min_size=200,
                                                         precision="bf16")
