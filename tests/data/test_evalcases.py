"""The evaluation against the official code's own numbers.

Every folder with gt.json / results.json / expected.json under
$CLIPVIS_EVALCASES (default ../shared/evalcases) is one case, so more cases
can be dropped in without touching this file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clipvis.evaluate import evaluate
from clipvis.evaluation import STAT_NAMES

CASES = Path(os.environ.get("CLIPVIS_EVALCASES", Path(__file__).resolve().parents[2] / ".." / "shared" / "evalcases"))


def case_dirs():
    found = sorted(p.parent for p in CASES.glob("*/expected.json")) if CASES.is_dir() else []
    return found or [pytest.param(None, marks=pytest.mark.skip(reason=f"no evaluation cases in {CASES}"))]


def expected_numbers(block: dict) -> dict:
    """Stats of one official run: `named`, and `stats` in the official order;
    any other name -> number pairs (e.g. base / novel values) are kept too."""
    out = dict(zip(STAT_NAMES, block.get("stats", [])))
    for key, value in block.items():
        if isinstance(value, dict):
            out.update({k: v for k, v in value.items() if isinstance(v, (int, float))})
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[key] = value
    return out


@pytest.mark.parametrize("case", case_dirs(), ids=lambda p: getattr(p, "name", "none"))
def test_equals_the_official_numbers(case):
    expected = json.loads((case / "expected.json").read_text())
    runs = {"ytvoseval": "ytvis", "lvviseval": "lvvis"}
    checked = 0
    for key, mode in runs.items():
        if key not in expected:
            continue
        want = expected_numbers(expected[key])
        got = evaluate(case / "gt.json", case / "results.json", mode=mode)
        common = sorted(set(want) & set(got))
        assert set(STAT_NAMES) <= set(common), f"{key}: expected.json lacks some of the 12 stats"
        for name in common:
            assert got[name] == pytest.approx(want[name], abs=1e-6), (key, name)
        checked += 1
    assert checked, f"{case}/expected.json holds neither 'ytvoseval' nor 'lvviseval'"
    gt = json.loads((case / "gt.json").read_text())
    if not any("partition" in c for c in gt["categories"]) and "ytvoseval" in expected:
        auto = evaluate(case / "gt.json", case / "results.json")
        assert [auto[k] for k in STAT_NAMES] == pytest.approx(expected["ytvoseval"]["stats"], abs=1e-6)
