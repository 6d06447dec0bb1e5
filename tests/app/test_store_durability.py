"""What is acknowledged is on disk, and nothing else: failed saves (read-only,
disk full, locked, a commit that raises) change nothing and say why; kill -9
during a stream of edits loses no acknowledged edit and leaves no partial one."""
from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.app.conftest import BROWSER, plain, snapshot, tab
from tests.app.store_worker import step

from app.callbacks import edit
from app.session import SaveError, Session

REPO = Path(__file__).resolve().parents[2]


def noisy_mask(seed, h=72, w=96):
    """A mask whose RLE is long (many runs): it needs new database pages."""
    return np.random.default_rng(seed).random((h, w)) < 0.5


def break_the_disk(session, fault: str, monkeypatch):
    """Make the next writes of `session` fail the way `fault` says."""
    conn = session.db._conn
    if fault == "read-only":
        conn.execute("PRAGMA query_only = ON")
    elif fault == "disk full":  # SQLite's own 'database or disk is full', at the current size
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    elif fault == "locked":  # another program holds the write lock
        conn.execute("PRAGMA busy_timeout = 100")
        other = sqlite3.connect(session.db.path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        return other
    elif fault == "commit raises":
        def fail():
            raise sqlite3.OperationalError("disk I/O error")
        monkeypatch.setattr(session.db, "_commit", fail)
    return None


REASONS = {"read-only": "the session's files are read-only", "disk full": "the disk is full",
           "locked": "the session's database is locked by another program",
           "commit raises": "the disk reported an I/O error"}


@pytest.mark.parametrize("fault", list(REASONS))
def test_a_failed_save_changes_nothing_and_says_why(studio, tracked, fault, monkeypatch):
    tracked.relabel(1, "acknowledged")  # on disk before the fault
    acknowledged = snapshot(tracked)
    revision, undo = tracked.revision, list(tracked.undo_stack)
    view = tab(tracked, selected=2)
    holder = break_the_disk(tracked, fault, monkeypatch)

    def paint(seed):
        return edit.run_edit(studio, view, None,
                             lambda s, v: s.set_mask(2, 3, noisy_mask(seed), base_revision=v.revision))

    attempts = {
        "relabel": lambda: edit.relabel(studio, view, None, "refused"),
        "relabel again": lambda: edit.relabel(studio, view, None, "refused again"),
        "delete": lambda: edit.delete(studio, view, None),
        "paint": lambda: paint(0),
        "undo": lambda: edit.undo(studio, view, None),
    }
    if fault == "disk full":
        # A full disk refuses what needs more room; a change that fits the space the
        # database already has (a relabel rewriting a row in place) may still succeed.
        attempts = {"paint": lambda: paint(0), "paint again": lambda: paint(1), "paint more": lambda: paint(2)}
    for name, attempt in attempts.items():
        out = attempt()
        assert plain(out["message"]) == f"⚠️ Could not save: {REASONS[fault]}", name
        assert set(out) == {"message"}, f"{name}: the screen must stay as it was"
        assert snapshot(tracked) == acknowledged, name
        assert (tracked.revision, tracked.undo_stack) == (revision, undo), name
    if fault != "disk full":
        with pytest.raises(SaveError, match=REASONS[fault]):
            tracked.set_threshold(0.5)
        assert tracked.meta.threshold == 0.0

    if holder is not None:
        holder.close()
    again = Session.open(tracked.folder.parents[1], BROWSER, tracked.meta.id)
    assert snapshot(again) == acknowledged  # after a restart: what was acknowledged, and nothing else
    assert again.revision == revision and again.undo_stack == undo
    # The fault gone, the same edits go through.
    assert "Delete #2" in plain(edit.delete(studio, tab(again, selected=2), None)["message"])


def test_a_failed_run_store_keeps_the_tracks(tracked, monkeypatch):
    """A run whose tracks cannot be saved leaves the old tracks and no stray analysis file."""
    from clipvis import analysis_io
    from tests.data.test_analysis_io import GEOMETRIES, synthetic_analysis

    before = snapshot(tracked)
    stored = analysis_io.compact(synthetic_analysis(GEOMETRIES[0], frames=8, q=3))
    break_the_disk(tracked, "commit raises", monkeypatch)

    class Result:  # what set_analysis reads of a VideoResult
        analysis = stored.analysis
        vocabulary = tracked.state.vocabulary
        instances = []
        num_frames = 8

    with pytest.raises(SaveError):
        tracked.set_analysis(stored, Result(), model="default")
    assert snapshot(tracked) == before and tracked.analysis_run is None
    assert not list((tracked.folder / "analysis").glob("*.safetensors"))


# ---- kill -9 --------------------------------------------------------------------------

EDITS = 120
KILLS = 7  # then the last worker finishes the stream


def start_worker(root, sid, start: int) -> tuple[subprocess.Popen, list, threading.Thread]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.app.store_worker", str(root), BROWSER, sid, str(start),
                             str(EDITS - start)], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    acks: list[int] = []

    def read():
        for line in proc.stdout:
            if line.startswith("ACK "):
                acks.append(int(line.split()[1]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return proc, acks, reader


def test_kill_9_during_edits_loses_no_acknowledged_edit(tmp_path, tracked):
    root, sid = tracked.folder.parents[1], tracked.meta.id
    r0 = tracked.revision
    tracked.close()
    # What the session must hold after k edits: the same stream, in this process, on a copy.
    ref_root = tmp_path / "reference"
    shutil.copytree(tracked.folder, ref_root / BROWSER / sid)
    reference = Session.open(ref_root, BROWSER, sid)
    expected = [snapshot(reference)]
    for i in range(EDITS):
        step(i, reference)
        expected.append(snapshot(reference))
    assert reference.revision == r0 + EDITS
    reference.close()

    rng = random.Random(0)
    done, kills = 0, 0
    while done < EDITS:
        proc, acks, reader = start_worker(root, sid, done)
        if kills < KILLS:
            # Let it acknowledge a few edits, then kill it at a random instant of the next ones:
            # inside a transaction, in its commit, or between two edits, as it falls.
            wanted = rng.randint(3, 12)
            deadline = time.time() + 120
            while len(acks) < wanted and proc.poll() is None and time.time() < deadline:
                time.sleep(0.001)
            time.sleep(rng.uniform(0.0, 0.005))
            os.kill(proc.pid, signal.SIGKILL)  # no clean-up, no flush: as a crash
            kills += 1
        proc.wait(timeout=120)
        reader.join(timeout=30)
        if proc.returncode not in (0, -signal.SIGKILL):
            raise AssertionError(f"the worker failed:\n{proc.stderr.read()[-3000:]}")
        acknowledged = (acks[-1] + 1) if acks else done

        again = Session.open(root, BROWSER, sid)
        committed = again.revision - r0
        assert acknowledged <= committed <= acknowledged + 1, (acknowledged, committed)  # at most the one in flight
        assert snapshot(again) == expected[committed], f"after {committed} edits"
        assert again.db.query("PRAGMA integrity_check")[0][0] == "ok"
        again.close()
        done = committed
    assert kills == KILLS
