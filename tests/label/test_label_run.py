"""A labelling run in this process: the output against the engine's own
result, failures, thresholds, the results form, YTVIS JSON input, the CLI."""
from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest

import clipvis.labeling.one_video as one_video
from clipvis.commands import label, main
from clipvis.evaluate import evaluate
from clipvis.formats import read_dataset, read_results
from clipvis.labeling import LabelOptions, discover_videos, label_dataset, label_video
from clipvis.labeling.sources import open_job
from clipvis.video import VideoDecodeError, open_video
from clipvis.vocab import VocabClass, Vocabulary
from tests.conftest import moving_squares_video
from tests.label.conftest import H, W, label_command, write_frames

# Ids that are not 1..N: the output must carry these, not positions.
VOCAB = Vocabulary(classes=(VocabClass(id=5, name="person", synonyms=("person",)),
                            VocabClass(id=11, name="car", synonyms=("car", "automobile")),
                            VocabClass(id=42, name="dog", synonyms=("dog",))), name="test")


def _run(tiny_predictor, videos, out, **kw):
    options = kw.pop("options", LabelOptions(progress=False))
    return label_dataset(videos=videos, vocabulary=VOCAB, out=out, make_predictor=lambda device: tiny_predictor,
                         options=options, log=lambda text: None, **kw)


def test_dataset_output_is_the_engines_result_with_vocabulary_ids(tiny_predictor, video_folder, tmp_path):
    out = tmp_path / "labels.json"
    summary = _run(tiny_predictor, video_folder, out)
    assert summary.ok and len(summary.done) == 4 and summary.skipped == []
    ds = read_dataset(out)  # validates sizes, lengths, RLEs
    assert [c.id for c in ds.categories] == [5, 11, 42]
    assert [(v.id, v.length, v.extra["name"]) for v in ds.videos] == [
        (k + 1, 6 + k, f"clip{k}.avi") for k in range(4)]
    assert ds.videos[0].file_names[:2] == ["clip0.avi/00000.jpg", "clip0.avi/00001.jpg"]
    assert [a.id for a in ds.annotations] == list(range(1, len(ds.annotations) + 1))
    assert summary.instances == len(ds.annotations) > 0

    # Video 1 against the predictor run directly on the same frames.
    frames = [f for _, f in open_video(video_folder / "clip0.avi")]
    result = tiny_predictor.predict(frames, VOCAB)
    expected = []
    for i, inst in enumerate(result.instances):
        masks = [result.mask(i, t) if inst.present[t] else None for t in range(len(frames))]
        masks = [m if m is not None and m.any() else None for m in masks]
        if any(m is not None for m in masks):
            expected.append((inst.category_id, inst.score, masks))
    got = ds.annotations_of(1)
    assert len(got) == len(expected)
    for ann, (category_id, score, masks) in zip(got, expected):
        assert ann.category_id == category_id and ann.score == pytest.approx(score, abs=1e-6)
        for t, m in enumerate(masks):
            assert (ann.mask(t) is None) == (m is None)
            if m is not None:
                np.testing.assert_array_equal(ann.mask(t), m)
        assert ann.computed_areas() == json.loads(out.read_text())["annotations"][ann.id - 1]["areas"]


def test_a_broken_video_is_recorded_and_the_run_goes_on(tiny_predictor, video_folder, tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(video_folder / "clip0.avi", videos / "good.avi")
    (videos / "broken.avi").write_bytes(b"this is not a video" * 10)
    summary = _run(tiny_predictor, videos, tmp_path / "out.json")
    assert summary.done == ["good.avi"]
    assert [name for name, _ in summary.failed] == ["broken.avi"]
    assert "VideoDecodeError" in summary.failed[0][1]
    assert [v.extra["name"] for v in read_dataset(tmp_path / "out.json").videos] == ["good.avi"]
    # A rerun skips the finished video and tries the failed one again.
    again = _run(tiny_predictor, videos, tmp_path / "out.json")
    assert again.skipped == ["good.avi"] and again.done == [] and len(again.failed) == 1
    saved = json.loads((tmp_path / "out.json.work" / "summary.json").read_text())
    assert saved["failed"][0][0] == "broken.avi"


def test_threshold_and_results_form_reuse_the_labels(tiny_predictor, video_folder, tmp_path):
    out = tmp_path / "labels.json"
    _run(tiny_predictor, video_folder, out)
    ds = read_dataset(out)
    threshold = float(np.median([a.score for a in ds.annotations]))

    def no_model(device):
        raise AssertionError("every video is labelled already; the model must not be loaded")

    summary = label_dataset(videos=video_folder, vocabulary=VOCAB, out=tmp_path / "results.json",
                            make_predictor=no_model, work_dir=tmp_path / "labels.json.work", log=lambda t: None,
                            options=LabelOptions(progress=False, min_score=threshold,
                                                 output_format="results"))
    assert summary.skipped and not summary.done
    results = read_results(tmp_path / "results.json", videos=ds.videos, categories=ds.categories)
    kept = [a for a in ds.annotations if a.score >= threshold]
    assert 0 < len(results) == len(kept) < len(ds.annotations)
    assert [(r.video_id, r.score) for r in results] == [(a.video_id, a.score) for a in kept]


def test_ytvis_json_keeps_its_video_ids_and_checks_frame_sizes(tiny_predictor, tmp_path):
    root = tmp_path / "valid" / "JPEGImages"
    good = write_frames(root / "good", moving_squares_video(8, H, W, seed=3))
    small = write_frames(root / "small", moving_squares_video(3, 32, 48))
    listed = [f"good/{n}" for n in good[:6]]
    videos = [{"id": 7, "width": W, "height": H, "length": 6, "file_names": listed},
              {"id": 3, "width": W, "height": H, "length": 3, "file_names": [f"small/{n}" for n in small]}]
    (tmp_path / "valid.json").write_text(json.dumps({"videos": videos, "categories": [], "annotations": []}))
    summary = _run(tiny_predictor, tmp_path / "valid.json", tmp_path / "out.json")
    ds = read_dataset(tmp_path / "out.json")
    assert [(v.id, v.file_names, v.extra) for v in ds.videos] == [(7, listed, {})]
    assert {a.video_id for a in ds.annotations} == {7}
    assert [name for name, _ in summary.failed] == ["video 3 (small)"]
    assert "48x32 but the JSON says 96x64" in summary.failed[0][1]


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["label", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    parser = argparse.ArgumentParser()
    label.add_arguments(parser)
    for action in parser._actions:
        for flag in action.option_strings:
            assert flag in text
        assert action.help, f"{action.option_strings} has no help"
    for words in ("JPEGImages", "YouTube-VIS JSON", "torchrun --nproc_per_node"):
        assert words in text


def test_cli_exit_status_and_summary(video_folder, model_flags, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path / "cache"))
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(video_folder / "clip1.avi", videos / "ok.avi")
    (videos / "bad.avi").write_bytes(b"\0" * 100)
    out = tmp_path / "out.json"
    code = main(label_command("--videos", videos, "--vocab", "person, car", "--out", out, "--no-progress",
                              *model_flags)[3:])
    err = capsys.readouterr().err
    assert code == 1  # some video failed; the others are in the output
    assert "1 videos labelled (1 done now, 0 skipped" in err and "failed: bad.avi: VideoDecodeError" in err
    assert len(read_dataset(out).videos) == 1


def test_results_for_a_ytvis_json_evaluate_against_its_ground_truth(tiny_predictor, tmp_path):
    root = tmp_path / "JPEGImages"
    videos = []
    for vid, seed in ((12, 1), (4, 2)):
        names = write_frames(root / f"v{vid}", moving_squares_video(6, H, W, seed=seed))
        videos.append({"id": vid, "width": W, "height": H, "file_names": [f"v{vid}/{n}" for n in names]})
    (tmp_path / "bare.json").write_text(json.dumps({"videos": videos, "categories": []}))
    _run(tiny_predictor, tmp_path / "bare.json", tmp_path / "labels.json")
    # Take the labels as ground truth; labelling that dataset again must score perfectly,
    # which needs the dataset's own video ids and the vocabulary's category ids.
    shutil.copy(tmp_path / "labels.json", tmp_path / "gt.json")
    _run(tiny_predictor, tmp_path / "gt.json", tmp_path / "results.json",
         options=LabelOptions(progress=False, output_format="results"))
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["video_id"] for r in results} == {12, 4}
    assert evaluate(tmp_path / "gt.json", tmp_path / "results.json")["AP"] == pytest.approx(1.0)


def _cut_after(source, n):
    """Make a data-layer source stop after n frames, as a truncated input does."""
    decode = source._decode

    def cut():
        for k, item in enumerate(decode()):
            if k == n:
                source._stop_reason = "cut short by the test"
                return
            yield item
    source._decode = cut
    return source


def test_a_video_file_that_ends_early_keeps_its_frames_a_frame_folder_fails(tiny_predictor, video_folder,
                                                                              tmp_path, monkeypatch):
    jobs, _ = discover_videos(video_folder)
    monkeypatch.setattr(one_video, "open_job", lambda job, **kw: _cut_after(open_job(job, **kw), 3))
    labels = label_video(tiny_predictor, jobs[0], VOCAB)
    assert labels.dataset.videos[0].file_names == ["clip0.avi/00000.jpg", "clip0.avi/00001.jpg",
                                                   "clip0.avi/00002.jpg"]
    assert "after 3 of 6 frames" in labels.note
    assert all(len(a.segmentations) == 3 for a in labels.dataset.annotations)

    write_frames(tmp_path / "frames" / "v", moving_squares_video(6, H, W))
    folder_jobs, _ = discover_videos(tmp_path / "frames")
    with pytest.raises(VideoDecodeError, match="after 3 of 6 frames"):
        label_video(tiny_predictor, folder_jobs[0], VOCAB)
