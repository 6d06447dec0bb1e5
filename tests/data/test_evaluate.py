"""Hand-made evaluation cases whose numbers are worked out by hand, and the CLI.

With 101 recall thresholds, a category whose one instance of two is found
first scores precision 1 at recall 0..0.50 (51 thresholds) and 0 beyond, so
AP = 51/101. IoU thresholds run 0.50, 0.55, ..., 0.95.
"""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from clipvis.evaluate import evaluate, main
from clipvis.formats import Category, dataset_to_results
from tests.data.ytvisgen import box, dataset

H, W = 20, 20


def m(y0, x0, y1, x1):
    return box(H, W, y0, x0, y1, x1)


SQUARE = m(2, 2, 6, 6)  # 16 px
OTHER = m(10, 10, 14, 14)


def results(spec, n=2):
    """[(video, cat, masks, score)] -> results form for videos of n frames."""
    return dataset_to_results(dataset([(H, W, n)] * 2, spec))


def gt(spec, n=2, categories=None):
    return dataset([(H, W, n)] * 2, spec, categories=categories or [Category(1, "a"), Category(2, "b")])


ONE_EACH = [(1, 1, [SQUARE, SQUARE]), (2, 1, [OTHER, None])]


def test_perfect_prediction_is_one():
    s = evaluate(gt(ONE_EACH), results([(v, c, ms, 0.9) for v, c, ms in ONE_EACH]))
    assert [s[k] for k in ("AP", "AP50", "AP75", "APs", "AR1", "AR10", "AR100", "ARs")] == pytest.approx([1.0] * 8)
    assert [s[k] for k in ("APm", "APl", "ARm", "ARl")] == [-1.0] * 4  # every object is small
    assert "APb" not in s


def test_missed_instance():
    s = evaluate(gt(ONE_EACH), results([(1, 1, [SQUARE, SQUARE], 0.9)]))
    assert (s["AP"], s["AR100"], s["AR1"]) == pytest.approx((51 / 101, 0.5, 0.5))


def test_duplicate_with_higher_score_and_partial_overlap():
    # The duplicate covers 10 of the 16 px: IoU 0.625, so at 0.50-0.60 it takes
    # the match (AP 1) and the exact one is a false positive; above 0.625 it
    # is the false positive ranked first (precision 1/2 everywhere).
    dup = m(2, 2, 4, 6) | m(4, 2, 5, 4)
    assert dup.sum() == 10 and (dup & SQUARE).sum() == 10
    s = evaluate(gt([(1, 1, [SQUARE, None])]), results([(1, 1, [dup, None], 0.95), (1, 1, [SQUARE, None], 0.9)]))
    assert s["AP"] == pytest.approx((3 * 1 + 7 * 0.5) / 10)
    assert (s["AP50"], s["AP75"], s["AR1"], s["AR10"]) == pytest.approx((1.0, 0.5, 0.3, 1.0))


def test_wrong_class_scores_nothing():
    s = evaluate(gt([(1, 1, [SQUARE, SQUARE])]), results([(1, 2, [SQUARE, SQUARE], 0.9)]))
    assert (s["AP"], s["AR100"]) == (0.0, 0.0)


def test_instance_present_in_some_frames():
    # Ground truth in frames 0-2 (16 px each), absent in 3; the prediction
    # matches frames 0-1, misses 2 and adds 16 px in 3: IoU = 32 / (48 + 16) = 0.5.
    g = [(1, 1, [SQUARE, SQUARE, SQUARE, None])]
    p = [(1, 1, [SQUARE, SQUARE, None, SQUARE], 0.9)]
    s = evaluate(gt(g, n=4), results(p, n=4))
    assert (s["AP50"], s["AP"], s["AR100"]) == pytest.approx((1.0, 0.1, 0.1))
    # Without the extra frame: IoU = 32 / 48 = 2/3, passing 0.50, 0.55, 0.60, 0.65.
    s = evaluate(gt(g, n=4), results([(1, 1, [SQUARE, SQUARE, None, None], 0.9)], n=4))
    assert (s["AP"], s["AP75"]) == pytest.approx((0.4, 0.0))


def test_max_detections_per_video_and_class():
    # 11 false positives ranked above the true one: AR1 = AR10 = 0, AR100 = 1.
    fps = [(1, 1, [OTHER, None], 0.9 - i * 0.01) for i in range(11)]
    s = evaluate(gt([(1, 1, [SQUARE, None])]), results(fps + [(1, 1, [SQUARE, None], 0.1)]))
    assert (s["AR1"], s["AR10"], s["AR100"]) == pytest.approx((0.0, 0.0, 1.0))
    assert s["AP"] == pytest.approx(1 / 12)
    # Past 100 per video and class, the rest are not looked at.
    fps = [(1, 1, [OTHER, None], 0.9 - i * 0.001) for i in range(100)]
    s = evaluate(gt([(1, 1, [SQUARE, None])]), results(fps + [(1, 1, [SQUARE, None], 0.1)]))
    assert (s["AR100"], s["AP"]) == (0.0, 0.0)


def test_area_ranges_use_the_mean_of_present_frames():
    big = np.ones((200, 200), bool)  # 40000 px: medium (128² to 256²)
    small = box(200, 200, 0, 0, 10, 10)
    # Present in one frame of three: mean 40000, not 13333.
    spec = [(1, 1, [big, None, None]), (1, 2, [small, small, None])]
    g = dataset([(200, 200, 3)], spec, categories=[Category(1, "a"), Category(2, "b")])
    s = evaluate(g, dataset_to_results(dataset([(200, 200, 3)], [t + (0.5,) for t in spec])))
    assert (s["APs"], s["APm"], s["APl"]) == pytest.approx((1.0, 1.0, -1.0))
    # A prediction of the wrong size that matches nothing is ignored in that range.
    s = evaluate(g, dataset_to_results(dataset([(200, 200, 3)], [(1, 1, [big, None, None], 0.5),
                                                                 (1, 1, [small, None, None], 0.9)])))
    assert s["APm"] == pytest.approx(1.0) and s["AP"] < 0.99


def test_base_novel_split():
    cats = [Category(1, "seen", {"partition": 0}), Category(2, "unseen", {"partition": 2})]
    g = gt([(1, 1, [SQUARE, None]), (1, 2, [OTHER, None])], categories=cats)
    s = evaluate(g, results([(1, 1, [SQUARE, None], 0.9), (1, 2, [SQUARE, None], 0.9)]))
    assert (s["AP"], s["APb"], s["APn"]) == pytest.approx((0.5, 1.0, 0.0))
    assert (s["AR100b"], s["AR100n"]) == pytest.approx((1.0, 0.0))


def test_crowd_ground_truth_is_ignored():
    g = gt([(1, 1, [SQUARE, None]), (1, 1, [OTHER, None])])
    g.annotations[1].iscrowd = 1
    s = evaluate(g, results([(1, 1, [SQUARE, None], 0.5), (1, 1, [OTHER, None], 0.9)]))
    assert s["AP"] == pytest.approx(1.0)  # the hit on the crowd region is neither right nor wrong


def test_pseudo_labels_against_corrected_labels(tmp_path):
    from clipvis.formats import write_dataset

    corrected = gt(ONE_EACH)
    pseudo = gt([(1, 1, [SQUARE, SQUARE]), (2, 2, [OTHER, None])])  # second one had the wrong class
    write_dataset(tmp_path / "gt.json", corrected)
    write_dataset(tmp_path / "pseudo.json", pseudo)
    s = evaluate(tmp_path / "gt.json", tmp_path / "pseudo.json")
    assert s["AP"] == pytest.approx(51 / 101)


def test_cli(tmp_path, capsys):
    g = gt(ONE_EACH)
    from clipvis.formats import write_dataset, write_results

    write_dataset(tmp_path / "gt.json", g)
    write_results(tmp_path / "res.json", g, default_score=1.0)
    assert main(["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "res.json"), "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert list(stats)[:8] == ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10"]
    assert stats["AP"] == pytest.approx(1.0)
    assert main(["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "res.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == " Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000"
    assert len(lines) == 12
    (tmp_path / "bad.json").write_text(json.dumps([{"video_id": 9, "category_id": 1, "score": 1,
                                                    "segmentations": [None]}]))
    assert main(["--gt", str(tmp_path / "gt.json"), "--pred", str(tmp_path / "bad.json")]) == 2
    assert "result #0, field 'video_id': no video with id 9" in capsys.readouterr().err


def test_module_runs_standalone(tmp_path):
    from clipvis.formats import write_dataset, write_results

    g = gt(ONE_EACH)
    write_dataset(tmp_path / "gt.json", g)
    write_results(tmp_path / "res.json", g, default_score=1.0)
    out = subprocess.run([sys.executable, "-m", "clipvis.evaluate", "--gt", str(tmp_path / "gt.json"),
                          "--pred", str(tmp_path / "res.json"), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["AR10"] == pytest.approx(1.0)
