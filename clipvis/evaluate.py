"""`python -m clipvis evaluate --gt GT.json --pred RESULTS.json [--json]`.

Scores results (or a second dataset file, e.g. exported pseudo-labels against
their corrected version) against a YTVIS ground-truth dataset with the
official YTVIS metrics; with an LV-VIS base/novel split also APb and APn.
"""
from __future__ import annotations

import argparse
import json
import sys

from clipvis.evaluation import EvalResult
from clipvis.evaluation import run as run_evaluation
from clipvis.formats.results import results_from_json
from clipvis.formats.validate import YTVISError, load_json
from clipvis.formats.ytvis import YTVISDataset


def _load_gt(gt) -> YTVISDataset:
    if isinstance(gt, YTVISDataset):
        return gt
    if isinstance(gt, dict):
        return YTVISDataset.from_json(gt, source="ground truth")
    return YTVISDataset.from_json(load_json(gt), source=str(gt))


def _load_pred(pred, gt: YTVISDataset, default_score: float) -> list:
    if isinstance(pred, YTVISDataset):
        pred = pred.to_json()
        source = "predictions"
    elif isinstance(pred, (list, dict)):
        source = "predictions"
    else:
        source, pred = str(pred), load_json(pred)
    if isinstance(pred, dict):
        # Dataset form (pseudo-labels): its annotations are the predictions,
        # in file order, with their own score or `default_score`.
        anns = YTVISDataset.from_json(pred, source=source).annotations
        pred = [{"video_id": a.video_id, "category_id": a.category_id,
                 "score": a.score if a.score is not None else default_score,
                 "segmentations": a.segmentations} for a in anns]
    # No category check here: results for classes the ground truth lacks are
    # skipped (and counted), as the official evaluation does.
    return results_from_json(pred, videos=gt, source=source)


def evaluate_full(gt, pred, *, mode: str = "auto", default_score: float = 1.0) -> EvalResult:
    """Like `evaluate`, with the precision/recall arrays and printable lines."""
    gt = _load_gt(gt)
    return run_evaluation(gt, _load_pred(pred, gt, default_score), mode=mode)


def evaluate(gt, pred, *, mode: str = "auto", default_score: float = 1.0) -> dict:
    """YTVIS metrics as a dict: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100,
    ARs, ARm, ARl (-1 where a slice has no ground truth) and, when the ground
    truth's categories carry an LV-VIS `partition`, the same names suffixed
    with `b` (base) and `n` (novel): APb, APn, AP50b, ...

    gt: a path, a parsed dict or a YTVISDataset. pred: a results file (list
    form) or a dataset file (annotations without a score count as
    `default_score`), as a path, parsed JSON or YTVISDataset.
    """
    return evaluate_full(gt, pred, mode=mode, default_score=default_score).stats


def add_evaluate_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("evaluate", help="YTVIS / LV-VIS metrics of results against ground truth",
                              description=__doc__.split("\n\n")[1])
    add_arguments(p)
    p.set_defaults(func=run_evaluate)
    return p


def add_arguments(p: argparse.ArgumentParser) -> None:
    """--gt, --pred, --json, --mode (the `clipvis.commands` module interface)."""
    p.add_argument("--gt", required=True, help="ground truth, YTVIS dataset form (JSON)")
    p.add_argument("--pred", required=True, help="results form (JSON list), or a dataset-form file")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object")
    p.add_argument("--mode", choices=("auto", "ytvis", "lvvis"), default="auto",
                   help="official code to follow: YTVOSeval, LVVISeval, or lvvis when categories have 'partition'")


def run_evaluate(args) -> int:
    try:
        res = evaluate_full(args.gt, args.pred, mode=args.mode)
    except YTVISError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(res.stats))
    else:
        print("\n".join(res.lines))
    if res.dropped_results:
        print(f"note: {res.dropped_results} results have a category the ground truth does not list; "
              "they were not scored", file=sys.stderr)
    return 0


run = run_evaluate  # the `clipvis.commands` module interface: add_arguments(parser), run(args)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m clipvis.evaluate", description=__doc__.split("\n\n")[1])
    add_arguments(p)
    return run_evaluate(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
