"""`python -m clipvis predict` end to end: the official results JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from clipvis.commands import main
from clipvis.formats.rle import rle_to_mask

from tests.engine.oracle_bundle import OracleBundle

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def predict(args, tmp_path):
    out = tmp_path / "results.json"
    proc = subprocess.run([sys.executable, "-m", "clipvis", "predict", *args, "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return proc, out


def test_predict_writes_the_official_results(oracle, tmp_path):
    bundle = OracleBundle(oracle)
    vocab = tmp_path / "vocab.json"
    vocab.write_text(json.dumps(bundle.vocab))
    for tag, t, k in bundle.tags:
        proc, out = predict(["--frames", str(oracle / "frames"), "--vocab", str(vocab),
                             "--checkpoint", str(bundle.checkpoint), "--clip-model", bundle.clip_name,
                             "--clip-config", str(bundle.clip_config), "--min-size", str(bundle.min_size),
                             "--topk", str(bundle.topk(tag)), "--memory", str(t), "--top-k-frames", str(k)],
                            tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        ours = json.loads(out.read_text())
        theirs = json.loads((oracle / f"results_{tag}.json").read_text())
        assert len(ours) == len(theirs)
        assert {r["video_id"] for r in ours} == {r["video_id"] for r in theirs}
        # Pair entries by class and score (the official order is unsorted).
        key = lambda r: (r["category_id"], round(r["score"], 4))  # noqa: E731
        for a, b in zip(sorted(ours, key=key), sorted(theirs, key=key)):
            assert a["category_id"] == b["category_id"], tag
            assert a["score"] == pytest.approx(b["score"], rel=1e-4), tag
            assert len(a["segmentations"]) == len(b["segmentations"])
            for sa, sb in zip(a["segmentations"], b["segmentations"]):
                # Ours is null where the official writer stores an empty mask (one rule for absent
                # frames; the official evaluation treats the two alike): compare as empty masks.
                ma = np.zeros(sb["size"], bool) if sa is None else rle_to_mask(sa)
                assert sa is None or sa["size"] == sb["size"]
                diff = ma != rle_to_mask(sb)
                assert diff.sum() <= 2, f"{tag}: {diff.sum()} pixels differ"  # float rounding at a boundary


@pytest.mark.parametrize("args,message", [
    (["--vocab", ""], "empty"),
    (["--vocab", "person", "--checkpoint", "/nonexistent/ckpt.pth"], "neither a file nor a known name"),
    (["--vocab", "person", "--checkpoint", "__README__"], "not a model checkpoint"),
    (["--vocab", "person", "--clip-model", "convnext_bse_w_320"], "did you mean"),
])
def test_predict_bad_input_gives_one_clear_line(oracle, tmp_path, args, message, capsys):
    args = [str(oracle / "README.md") if a == "__README__" else a for a in args]
    if "--checkpoint" not in args:
        args += ["--checkpoint", str(oracle / "model_final.pth")]
    out = tmp_path / "results.json"
    code = main(["predict", "--frames", str(oracle / "frames"), *args, "--out", str(out)])
    err = capsys.readouterr().err
    assert code != 0
    assert message in err
    assert err.strip().count("\n") <= 3  # a line, not a traceback
    assert not out.exists()


def test_zero_frame_video_is_a_clear_error(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["predict", "--frames", str(empty), "--vocab", "person", "--out", str(tmp_path / "r.json")])
    assert code != 0
    assert "frame" in capsys.readouterr().err.lower()
