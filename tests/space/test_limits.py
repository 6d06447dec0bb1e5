"""Limits for a shared deployment: refused before decoding, with the limit in
the message; the stored resolution; the defaults on and off a Space; and the
estimate of a run's time, shown before Run and learnt from runs."""
from __future__ import annotations

import pytest

from clipvis.formats.overlay import write_overlay_video
from tests.app.conftest import BROWSER, plain
from tests.conftest import moving_squares_video

from app import deployment
from app.callbacks import files, run
from app.config import Studio, StudioConfig, parse_args
from app.estimate import RunTimes
from app.model_service import ModelService
from app.session import store


def _studio(tmp_path, *flags, service=None) -> Studio:
    args = parse_args(["--workdir", str(tmp_path / "work"), "--model", "demo", *flags])
    return Studio(config=StudioConfig.from_args(args),
                  service=service or ModelService.from_args(args, times=RunTimes(tmp_path / "work")))


@pytest.fixture
def long_video(tmp_path):
    """40 frames at 10 fps: 4 s, 160x120."""
    return write_overlay_video(tmp_path / "long clip.mp4", iter(moving_squares_video(40, h=120, w=160)), fps=10)


def _no_decoding(monkeypatch):
    def decoded(*a, **k):
        raise AssertionError("the video was opened for decoding")
    monkeypatch.setattr(files, "open_video", decoded)
    monkeypatch.setattr("app.session.frames.open_video", decoded)


def test_an_over_long_upload_is_refused_before_decoding(tmp_path, long_video, monkeypatch):
    studio = _studio(tmp_path, "--max-seconds", "2")
    _no_decoding(monkeypatch)
    out = files.load_video(studio, BROWSER, str(long_video), None, None, 1, 0, 480, progress=lambda *a, **k: None)
    message = plain(out["message"])
    assert "4.0 s long" in message and "at most 2 s" in message and "view" not in out
    assert "Set Max frames to 20 or fewer" in message  # 2 s of 10 fps
    assert store.list_sessions(studio.config.workdir, BROWSER) == []  # nothing copied
    assert "at most 2 s" in plain(files.probe(str(long_video), studio, 1, 0, 480)["probe"])


def test_too_many_frames_is_refused_from_the_header_and_max_frames_is_the_way_out(tmp_path, long_video,
                                                                                   monkeypatch):
    studio = _studio(tmp_path, "--max-frames", "30", "--max-seconds", "3")
    with monkeypatch.context() as m:
        _no_decoding(m)
        out = files.load_video(studio, BROWSER, str(long_video), None, None, 1, 0, 480,
                               progress=lambda *a, **k: None)
        assert "40 frames at stride 1" in plain(out["message"]) and "at most 30" in plain(out["message"])
    # 25 frames of 10 fps (2.5 s) fit both limits.
    out = files.load_video(studio, BROWSER, str(long_video), None, None, 1, 25, 480, progress=lambda *a, **k: None)
    assert "view" in out, out["message"]
    assert out["view"].session.meta.num_frames == 25


def test_the_estimate_is_shown_after_upload_and_under_run(tmp_path, long_video):
    studio = _studio(tmp_path)
    shown = plain(files.probe(str(long_video), studio, 1, 0, 480)["probe"])
    assert "Estimated run time:** about 2 s" in shown and "40 frames" in shown and "first guess" in shown
    out = files.load_video(studio, BROWSER, str(long_video), None, None, 2, 0, 480, progress=lambda *a, **k: None)
    assert "20 frames" in plain(out["estimate"])  # stride 2
    view = out["view"]
    # A run measures this machine; the estimate then says so.
    updates = list(run.run(studio, view, "square", None, "default", "", 96))
    assert "measured over 1 run" in plain(updates[-1]["estimate"])
    assert "measured over 1 run" in plain(run.estimate(studio, view, "default", "", 96)["estimate"])


def test_stored_resolution_shrinks_frames_for_display_model_and_export(tmp_path, long_video):
    studio = _studio(tmp_path, "--max-resolution", "60")
    out = files.load_video(studio, BROWSER, str(long_video), None, None, 1, 5, 480, progress=lambda *a, **k: None)
    session = out["view"].session
    assert (session.meta.width, session.meta.height) == (80, 60)
    assert {f.shape for _, f in session.open_video()} == {(60, 80, 3)}
    assert "Kept at 60p" in plain(files.probe(str(long_video), studio, 1, 0, 480)["probe"])


def test_defaults_off_a_space_and_on_one(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    for var in ("CLIPVIS_MAX_SECONDS", "CLIPVIS_MAX_FRAMES", "CLIPVIS_MAX_RESOLUTION", "CLIPVIS_SESSION_TTL_DAYS",
                "SPACES_ZERO_GPU"):
        monkeypatch.delenv(var, raising=False)
    local = StudioConfig.from_args(parse_args([])).limits
    assert (local.max_seconds, local.max_frames, local.max_resolution) == (0, 2000, 0)  # a laptop: no 10 s cap
    assert StudioConfig.from_args(parse_args([])).session_ttl_days == 0  # and its sessions stay

    monkeypatch.setenv("SPACE_ID", "someone/clip-vis")
    monkeypatch.setattr(deployment, "has_gpu", lambda: False)
    cpu = StudioConfig.from_args(parse_args([])).limits
    assert (cpu.max_seconds, cpu.max_frames, cpu.max_resolution) == (10, 300, 480)
    monkeypatch.setattr(deployment, "has_gpu", lambda: True)
    gpu = StudioConfig.from_args(parse_args([])).limits
    assert gpu.max_seconds > cpu.max_seconds and gpu.max_resolution > cpu.max_resolution

    assert StudioConfig.from_args(parse_args([])).session_ttl_days == 7  # strangers' uploads do not stay
    monkeypatch.setenv("CLIPVIS_MAX_SECONDS", "30")  # the variable wins over the Space's default
    assert StudioConfig.from_args(parse_args([])).limits.max_seconds == 30
    assert StudioConfig.from_args(parse_args(["--max-seconds", "5"])).limits.max_seconds == 5


def test_run_times_learn_and_persist(tmp_path):
    times = RunTimes(tmp_path)
    prior, runs = times.seconds_per_frame("clipvis_convnext_b_lvis", "cpu", 480)
    assert runs == 0 and prior == pytest.approx(2.5)
    assert times.seconds_per_frame("x", "cpu", 960)[0] == pytest.approx(4 * prior)  # area grows 4x
    times.record("clipvis_convnext_b_lvis", "cpu", frames=10, seconds=12.0, min_size=480)
    times.record("clipvis_convnext_b_lvis", "cpu", frames=10, seconds=8.0, min_size=480)
    again = RunTimes(tmp_path)  # a restart
    assert again.seconds_per_frame("clipvis_convnext_b_lvis", "cpu", 480) == (pytest.approx(1.0), 2)
    assert again.seconds_per_frame("clipvis_convnext_b_lvis", "cuda", 480)[1] == 0  # per device


def test_the_limits_are_said_before_an_upload_only_where_set(tmp_path):
    from app.callbacks.files import limits_note
    assert limits_note(_studio(tmp_path).config.limits) == ""  # local defaults: nothing to say
    note = limits_note(_studio(tmp_path, "--max-seconds", "10", "--max-frames", "300",
                               "--max-resolution", "480").config.limits)
    assert "at most 10 s (300 frames)" in note and "480p" in note
