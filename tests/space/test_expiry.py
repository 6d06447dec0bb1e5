"""CLIPVIS_SESSION_TTL_DAYS: a session unused for N days goes with all its
files; nothing else of the work folder does, and no session a tab has open."""
from __future__ import annotations

import os
import time

from tests.conftest import moving_squares_video

from app.config import StudioConfig, parse_args
from app.session import Session
from app.session.expiry import DAY, expire_sessions, last_used
from clipvis.formats.overlay import write_overlay_video

A, B = "a" * 32, "b" * 32


def _age(session: Session, days: float):
    """Make a session look last used `days` ago: its own record and its files' times."""
    then = time.time() - days * DAY
    session.save_meta(updated=then)
    session.close()
    for p in (session.folder / "session.sqlite", session.folder / "session.sqlite-wal", session.folder):
        if p.exists():
            os.utime(p, (then, then))


def test_only_the_expired_sessions_files_go(tmp_path):
    root = tmp_path / "work"
    video = write_overlay_video(tmp_path / "v.mp4", iter(moving_squares_video(4)), fps=5)
    old = Session.create(root, A, [video], "old.mp4")
    fresh_same_browser = Session.create(root, A, [video], "fresh.mp4")
    other_browser = Session.create(root, B, [video], "other.mp4")
    in_use = Session.create(root, B, [video], "open.mp4")
    (root / ".gradio").mkdir()
    (root / ".gradio" / "upload.mp4").write_bytes(b"x")
    (root / ".browser_secret").write_text("k")
    (root / A / "notes.txt").write_text("not a session")
    _age(old, 10)
    _age(in_use, 10)
    assert last_used(old.folder) < time.time() - 9 * DAY

    removed = expire_sessions(root, 7, in_use=lambda folder: folder == in_use.folder)

    assert removed == [old.folder] and not old.folder.exists()
    for kept in (fresh_same_browser, other_browser, in_use):
        assert (kept.folder / "session.sqlite").is_file() and (kept.folder / kept.meta.source).exists()
    assert (root / ".gradio" / "upload.mp4").exists() and (root / ".browser_secret").exists()
    assert (root / A / "notes.txt").exists() and root.is_dir()


def test_recent_use_keeps_a_session_and_zero_keeps_all(tmp_path):
    root = tmp_path / "work"
    video = write_overlay_video(tmp_path / "v.mp4", iter(moving_squares_video(4)), fps=5)
    s = Session.create(root, A, [video], "v.mp4")
    _age(s, 3)
    assert expire_sessions(root, 7) == []
    assert expire_sessions(root, 0, now=time.time() + 100 * DAY) == []
    assert expire_sessions(root, 2) == [s.folder]


def test_the_setting_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CLIPVIS_SESSION_TTL_DAYS", "7")
    assert StudioConfig.from_args(parse_args(["--workdir", str(tmp_path)])).session_ttl_days == 7
    assert StudioConfig.from_args(parse_args(["--session-ttl-days", "2"])).session_ttl_days == 2
