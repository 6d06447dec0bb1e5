"""bench/bench_edits.py keeps working as the studio changes (a merge once left it
calling handlers that no longer existed). Its figures are not checked here:
timings belong to the bench, on a quiet machine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_edits_runs_every_edit_and_prints_its_json():
    proc = subprocess.run([sys.executable, "bench/bench_edits.py", "--frames", "24", "--repeat", "1", "--json"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["frames"] == [24]
    edits = out["median_ms"]["24"]
    assert set(edits) == {"relabel", "delete", "delete frames 10-20", "merge", "split", "brush apply",
                          "copy forward", "promote", "undo", "redo", "re-label whole vocabulary", "resume"}
    assert all(ms > 0 for ms in edits.values())
