"""Cached examples with the demo model: the first visitor's run of an example
is kept, and the next visitor opens the example with its tracks (and a
working Re-label) without a run."""
from __future__ import annotations

import shutil

import pytest

from tests.app.conftest import plain

from app.callbacks import files, run
from app.config import Studio, StudioConfig, parse_args
from app.examples import ExampleCache
from app.model_service import ModelService

EXAMPLE = "pedestrians_vtest.mp4"  # 50 frames
A, B = "a" * 32, "b" * 32


def _studio(tmp_path, *flags):
    args = parse_args(["--workdir", str(tmp_path / "work"), *flags])
    studio = Studio(config=StudioConfig.from_args(args), service=ModelService.from_args(args))
    return studio


def _load(studio, browser, example=EXAMPLE, upload=None):
    out = files.load_video(studio, browser, upload, None, example, 1, 0, 128, progress=lambda *a, **k: None)
    assert "view" in out, out["message"]
    return out


@pytest.fixture
def studio(tmp_path):
    studio = _studio(tmp_path, "--model", "demo", "--min-size", "128")  # small: the test is about the cache
    assert files.start_examples(studio, "lazy") is None  # lazy: nothing runs at start
    return studio


def test_the_first_run_is_kept_and_the_next_visitor_opens_it_without_a_run(studio, monkeypatch):
    first = _load(studio, A)["view"]
    assert not first.session.state.tracks
    updates = list(run.run(studio, first, "person, car", None, "default", "", 128))
    assert "Run:" in plain(updates[-1]["message"])
    assert studio.examples.cached(EXAMPLE) is not None

    def no_model(*a, **k):
        raise AssertionError("the model ran")
    monkeypatch.setattr(studio.service, "analyse", no_model)
    out = _load(studio, B)
    second = out["view"].session
    assert "without" in plain(out["message"]) or "no run" in plain(out["message"])
    assert second.folder != first.session.folder and second.meta.id == second.folder.name
    assert {t.meta()["category_id"] for t in second.state.tracks.values()} == \
        {t.meta()["category_id"] for t in first.session.state.tracks.values()}
    assert len(second.state.tracks) == len(first.session.state.tracks) > 0
    assert "view" in out and out["viewer"]  # the viewer shows it
    # Re-label works at once: the stored analysis came with it.
    relabelled = run.requery(studio, out["view"], None, "dog, bag", None)
    assert "Re-labelled" in plain(relabelled["message"])
    assert second.state.vocabulary.names == ["dog", "bag"]
    assert first.session.state.vocabulary.names == ["person", "car"]  # the first visitor's is untouched
    # The cache stays as it was kept; the second visitor's session is listed as theirs.
    assert [value for _, value in files.session_choices(studio, B)] == [second.meta.id]


def test_an_upload_named_like_an_example_never_becomes_the_cache(studio, tmp_path):
    fake = tmp_path / EXAMPLE
    shutil.copy(files.EXAMPLES_DIR / "street_bikes.mp4", fake)
    view = _load(studio, A, example=None, upload=str(fake))["view"]
    list(run.run(studio, view, "person", None, "default", "", 128))
    assert studio.examples.cached(EXAMPLE) is None


def test_a_stride_or_frame_limit_is_a_normal_load_and_not_kept(studio):
    out = files.load_video(studio, A, None, None, EXAMPLE, 2, 0, 128, progress=lambda *a, **k: None)
    list(run.run(studio, out["view"], "person", None, "default", "", 128))
    assert studio.examples.cached(EXAMPLE) is None


def test_at_start_without_weights_caching_is_skipped_with_a_log_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLIPVIS_OFFLINE", "1")
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path / "cache"))
    studio = _studio(tmp_path, "--model", "clipvis_convnext_b_lvis")
    thread = files.start_examples(studio, "start")
    thread.join(60)
    assert "examples not cached" in capsys.readouterr().err
    assert all(studio.examples.cached(e) is None for e in files.examples())


def test_the_cache_belongs_to_one_model(tmp_path):
    demo = _studio(tmp_path, "--model", "demo")
    other = _studio(tmp_path, "--model", "demo", "--min-size", "360")
    assert ExampleCache(tmp_path, demo.service).folder != ExampleCache(tmp_path, other.service).folder
