"""Every example in README.md and docs/*.md runs as written.

Each document's code blocks run in order, in a fresh copy of a sandbox folder
that holds the files the examples name (`clip.mp4`, `clips/` with `street.mp4`,
`street.avi` and `cams/gate.mp4`, and a small YouTube-VIS set `ytvis_2019/`
with ground truth). The model is the tests' tiny random one:
- ```python blocks share one namespace per document; `load_predictor(...)`
  gives the tiny predictor whatever name it is asked for;
- ```bash lines that run clipvis (`python -m clipvis predict|label|evaluate`,
  `clipvis ...`) run through `clipvis.commands.main` in this process (as
  `python -m clipvis` would, without a new interpreter per command), `python -c
  ...` as a subprocess; the tiny model is set through CLIPVIS_CHECKPOINT /
  CLIPVIS_CLIP_CONFIG, and `--min-size 64 --topk 10` is added to predict and
  label (the tiny model's input size);
- commands that install, serve or train at scale (NOT_RUN) are not run, and a
  block marked `<!-- not run by tests: REASON -->` is skipped with its reason.
Any other command fails the test, so a new kind of example cannot go untested
unnoticed.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import clipvis
import clipvis.build
from clipvis.commands import main
from clipvis.formats import Annotation, YTVISDataset, Video, write_dataset
from clipvis.vocab import load_vocabulary
from tests.conftest import REPO, moving_squares_video
from tests.data.videogen import write_ffmpeg
from tests.data.ytvisgen import box
from tests.label.conftest import write_avi, write_frames

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARK = re.compile(r"<!--\s*not run by tests:\s*(.+?)\s*-->")
# Commands shown for people to run by hand, never by a test: installs, the studio, the suite itself, GPU jobs.
NOT_RUN = ("pip ", "python app.py", "python -m pytest", "bash ", "torchrun ", "apt-get ", "python bench/",
           "python assets/", "python clipvis/vocabularies/")
CLIPVIS = re.compile(r"^(python -m clipvis|clipvis) ")


@dataclass
class Block:
    doc: str
    line: int
    lang: str
    code: str
    skip: str | None


def read_blocks(path: Path) -> list[Block]:
    out, lines, i = [], path.read_text(encoding="utf-8").splitlines(), 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if fence:
            end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
            before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            mark = MARK.search(before)
            out.append(Block(path.name, i + 1, fence.group(1), "\n".join(lines[i + 1:end]),
                             mark.group(1) if mark else None))
            i = end
        i += 1
    return out


def shell_commands(code: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", code)
    return [c for c in (line.strip() for line in joined.splitlines()) if c and not c.startswith("#")]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("docs_sandbox")
    write_ffmpeg(root / "clip.mp4", list(moving_squares_video(6, 64, 96, seed=11)))
    (root / "clips" / "cams").mkdir(parents=True)
    write_ffmpeg(root / "clips" / "street.mp4", list(moving_squares_video(5, 64, 96, seed=12)))
    write_avi(root / "clips" / "street.avi", moving_squares_video(4, 48, 80, seed=13))
    write_ffmpeg(root / "clips" / "cams" / "gate.mp4", list(moving_squares_video(4, 56, 72, seed=14)))
    # A YouTube-VIS split with ground truth: ytvis_2019/valid.json + ytvis_2019/valid/JPEGImages/.
    frames = root / "ytvis_2019" / "valid" / "JPEGImages"
    videos, anns = [], []
    for vid, name in ((1, "0a1b"), (2, "0c2d")):
        names = write_frames(frames / name, moving_squares_video(4, 64, 96, seed=vid))
        videos.append(Video(id=vid, width=96, height=64, file_names=[f"{name}/{n}" for n in names]))
        masks = [box(64, 96, 10 + t, 5 + 2 * t, 30 + t, 25 + 2 * t) for t in range(4)]
        anns.append(Annotation.from_masks(id=vid, video_id=vid, category_id=1, masks=masks))
    write_dataset(root / "ytvis_2019" / "valid.json",
                  YTVISDataset(videos=videos, categories=load_vocabulary("ytvis2019").categories(), annotations=anns))
    return root


def test_the_docs_have_examples_and_marks_say_why():
    blocks = [b for doc in DOCS for b in read_blocks(doc)]
    assert sum(b.lang == "python" for b in blocks) >= 8
    assert all(b.skip.strip() for b in blocks if b.skip is not None)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_examples_run_as_written(doc, sandbox, tmp_path, tiny_predictor, tiny_checkpoint, tiny_clip_config,
                                 monkeypatch, capsys):
    work = shutil.copytree(sandbox, tmp_path / "sandbox")
    monkeypatch.chdir(work)
    monkeypatch.setattr(clipvis.build, "load_predictor", lambda *args, **kw: tiny_predictor)
    monkeypatch.setattr(clipvis, "load_predictor", lambda *args, **kw: tiny_predictor, raising=False)
    model_env = {"HF_HUB_OFFLINE": "1", "CLIPVIS_CHECKPOINT": str(tiny_checkpoint),
                 "CLIPVIS_CLIP_CONFIG": str(tiny_clip_config), "CLIPVIS_DEVICE": "cpu",
                 "CLIPVIS_CACHE": str(sandbox.parent / "clipvis_cache")}
    for key, value in model_env.items():
        monkeypatch.setenv(key, value)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    namespace: dict = {"__name__": "__doc_example__"}
    ran = 0
    for block in read_blocks(doc):
        where = f"{doc.name}:{block.line}"
        if block.skip is not None or block.lang not in ("python", "bash", "sh", "shell"):
            continue
        if block.lang == "python":
            exec(compile(block.code, where, "exec"), namespace)  # noqa: S102 - the docs' own examples
            ran += 1
            continue
        for command in shell_commands(block.code):
            if command.startswith(NOT_RUN):
                continue
            argv = shlex.split(command, comments=True)
            if CLIPVIS.match(command):
                args = argv[(3 if argv[0] == "python" else 1):]
                if args[0] in ("predict", "label"):
                    args += ["--min-size", "64", "--topk", "10"] + (["--no-progress"] if args[0] == "label" else [])
                code = main(args)
                assert code == 0, f"{where}: `{command}` exited with {code}: {capsys.readouterr().err[-3000:]}"
            elif argv[:2] == ["python", "-c"]:
                proc = subprocess.run([sys.executable, *argv[1:]], cwd=work, env=env, capture_output=True, text=True,
                                      timeout=300)
                assert proc.returncode == 0, f"{where}: `{command}` failed:\n{proc.stderr[-3000:]}"
            else:
                pytest.fail(f"{where}: `{command}` is neither a clipvis command nor in NOT_RUN; run it here or "
                            "mark the block <!-- not run by tests: why -->")
            ran += 1
    if ran == 0:
        pytest.skip(f"{doc.name} has no example to run")
