"""The CLI as separate processes: kill -9 in the middle then resume, and
torchrun with two CPU ranks (gloo), both against one uninterrupted run."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.label.conftest import label_command

VOCAB = "person, car, dog|puppy"


def _label(video_folder, model_flags, out, *extra):
    return label_command("--videos", video_folder, "--vocab", VOCAB, "--out", out, "--no-progress",
                         *model_flags, *extra)


def _frames(out) -> dict:
    """{relative path: bytes} of the frames a run wrote (JPEGImages/ next to its output)."""
    root = out.parent / "JPEGImages"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _finished(work):
    folder = work / "videos"
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.is_dir() else []


@pytest.fixture(scope="module")
def uninterrupted(video_folder, model_flags, cli_env, tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "labels.json"
    subprocess.run(_label(video_folder, model_flags, out), env=cli_env, check=True, capture_output=True,
                   timeout=300)
    return out


def test_uninterrupted_run_writes_valid_json(uninterrupted):
    obj = json.loads(uninterrupted.read_text())
    assert len(obj["videos"]) == 4 and obj["annotations"]
    frames = _frames(uninterrupted)
    assert sorted(frames) == sorted(n for v in obj["videos"] for n in v["file_names"])  # all, and only those
    assert {a["category_id"] for a in obj["annotations"]} <= {1, 2, 3}
    assert "date" not in json.dumps(obj["info"])


def test_kill_in_the_middle_then_rerun_gives_the_same_bytes(uninterrupted, video_folder, model_flags, cli_env,
                                                           tmp_path):
    out = tmp_path / "labels.json"
    work = tmp_path / "labels.json.work"
    proc = subprocess.Popen(_label(video_folder, model_flags, out), env=cli_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while not _finished(work) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    done_before = len(_finished(work))
    assert 1 <= done_before < 4, f"the kill came after {done_before} of 4 videos; nothing left to resume"
    assert not out.exists()

    rerun = subprocess.run(_label(video_folder, model_flags, out), env=cli_env, capture_output=True, text=True,
                           timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({4 - done_before} done now, {done_before} skipped" in rerun.stderr
    assert out.read_bytes() == uninterrupted.read_bytes()
    assert _frames(out) == _frames(uninterrupted)  # frames included, byte for byte
    assert not [p for p in (out.parent / "JPEGImages").rglob(".*")]  # no temporary file left behind


def test_torchrun_two_cpu_ranks_equal_one_process(uninterrupted, video_folder, model_flags, cli_env, tmp_path):
    out = tmp_path / "labels.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "clipvis", *_label(video_folder, model_flags, out)[3:]]
    env = {k: v for k, v in cli_env.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_PORT")}
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "to label on 2 process(es)" in run.stderr
    ranks = {json.loads(p.read_text())["rank"] for p in _finished(tmp_path / "labels.json.work")}
    assert ranks == {0, 1}  # both ranks labelled their shard
    assert out.read_bytes() == uninterrupted.read_bytes()
    assert _frames(out) == _frames(uninterrupted)
