"""docs/PROMPT.md's example runs as written, with the tiny SAM 2 and the tiny
CLIP-VIS model in place of the downloaded ones (tests/api's harness skips it:
it has no SAM 2)."""
from __future__ import annotations

import re

import clipvis
import clipvis.prompt
from tests.conftest import REPO
from tests.data.videogen import write_ffmpeg
from tests.prompt.tiny_sam import squares_video


def test_the_prompt_docs_example_runs(tracker, tiny_predictor, tmp_path, monkeypatch, capsys):
    text = (REPO / "docs" / "PROMPT.md").read_text(encoding="utf-8")
    code = re.search(r"tests/prompt/test_doc_example\.py runs it.*?\n```python\n(.*?)\n```", text, re.S).group(1)
    frames = squares_video(90, 360, 480)  # the example clicks up to x = 420 and corrects frame 80
    write_ffmpeg(tmp_path / "clip.mp4", list(frames))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(clipvis.prompt, "load_prompt_tracker", lambda *a, **kw: tracker)
    monkeypatch.setattr(clipvis, "load_predictor", lambda *a, **kw: tiny_predictor, raising=False)
    namespace = {"__name__": "__doc_example__"}
    exec(compile(code, "docs/PROMPT.md", "exec"), namespace)  # noqa: S102 - the docs' own example
    assert sorted(namespace["masks"]) == list(range(90))
    assert namespace["vector"].ndim == 1
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("1/90 frames") and printed[89].startswith("90/90 frames")
    assert len(printed) == 90 + 3 and {line.split()[1] for line in printed[-3:]} == {"person", "dog", "skateboard"}
