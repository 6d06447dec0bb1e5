"""Kill the server (SIGKILL) in the middle of an editing session, start it
again, and find every edit: the page reopens the session by itself, and its
undo history goes on."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.browser.conftest import free_port, model_argv, shot, wait_for_http
from tests.browser.studio_page import StudioPage

from app.session import Session

REPO = Path(__file__).resolve().parents[2]


def start_server(port: int, workdir: Path, model: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--workdir", str(workdir), *model],
                            cwd=REPO, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=90)
    except TimeoutError:
        proc.kill()
        raise AssertionError(f"app.py did not start:\n{log.read_text()[-3000:]}")
    return proc


def test_kill_9_loses_no_edit(page, tmp_path, tiny_checkpoint, tiny_clip_config, squares_mp4):
    port, workdir, log = free_port(), tmp_path / "work", tmp_path / "server.log"
    workdir.mkdir()
    model = model_argv(tiny_checkpoint, tiny_clip_config)
    proc = start_server(port, workdir, model, log)
    try:
        s = StudioPage(page, f"http://127.0.0.1:{port}/").open()
        s.upload(squares_mp4)
        s.load()
        assert "Run:" in s.run("red square, green square")
        first = s.select_row(0)
        page.locator("#relabel-text textarea, #relabel-text input").first.fill("survivor")
        s.click("relabel", "→ survivor")
        s.go_to_frame(4)
        split = s.click("split", "Split #")
        new_id = int(split.split("(new #")[1].split(")")[0])
        second = s.select_row(1)
        assert second != first
        s.click("delete", "Delete #")
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # no shutdown hook, no flush: as a crash
        proc.wait()

    proc = start_server(port, workdir, model, log)  # same port: same origin, same browser id
    try:
        page.reload(wait_until="load")
        resumed = s.message("Resumed")  # opening the page reopens the browser's last session
        assert "4 undoable edits" in resumed  # the run, relabel, split, delete
        shot(page, "08_resumed_after_kill")
        # The tracks on disk are the edited ones.
        db = next(workdir.glob("*/*/session.sqlite"))
        session = Session.open(workdir, db.parent.parent.name, db.parent.name)
        names = {c.id: c.name for c in session.state.vocabulary.classes}
        assert names[session.state.get(first).category_id] == "survivor"
        assert second not in session.state.tracks
        assert session.state.get(new_id).first_frame == 4
        assert session.state.get(first).last_frame < 4
        session.close()
        # And the history goes on after the restart.
        assert f"Undid: Delete #{second}" in s.click("undo", "Undid")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
