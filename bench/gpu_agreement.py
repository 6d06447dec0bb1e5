"""CUDA against CPU on the oracle bundle: every stage's output, atol 1e-3.

    python bench/gpu_agreement.py [--oracle DIR] [--device cuda]

`--device cpu` compares the CPU with itself: a check that the script runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis import InferenceConfig, load_predictor  # noqa: E402
from clipvis.vocab import Vocabulary  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", default=os.environ.get("CLIPVIS_ORACLE", str(Path(__file__).resolve().parents[2]
                                                                           / "shared" / "oracle")))
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    root = Path(args.oracle)
    summary = json.loads((root / "summary.json").read_text())
    vocab = Vocabulary.from_names(summary["vocab"])
    frames = list(np.load(root / "input_video_uint8.npy"))
    min_size = int(min(np.load(root / "preprocess.npz")["image_size_hw"]))
    topk = int(np.load(root / "instances_T9_K5.npz")["scores"].shape[0])
    results = {}
    for name, device in (("cpu", "cpu"), ("cuda", args.device)):
        p = load_predictor(str(root / "model_final.pth"), clip_config=str(root / f"{summary['clip_name']}.json"),
                           device=device, config=InferenceConfig(min_size=min_size, topk=topk))
        results[name] = p.predict(frames, vocab)
    a, b = results["cpu"].analysis, results["cuda"].analysis
    worst = {name: float((getattr(a, name).float() - getattr(b, name).float()).abs().max())
             for name in ("object_logits", "ious", "pooled")}
    worst["final class scores"] = float(np.abs(results["cpu"].class_scores - results["cuda"].class_scores).max())
    same = [(i.query, i.label) for i in results["cpu"].instances] == [(i.query, i.label) for i in results["cuda"].instances]
    ra, rb = results["cpu"], results["cuda"]
    inter = union = 0
    for i in range(min(len(ra.instances), len(rb.instances))):
        for t in range(ra.num_frames):
            ma, mb = ra.mask(i, t), rb.mask(i, t)
            inter += int((ma & mb).sum())
            union += int((ma | mb).sum())
    print("| output | max abs diff CPU vs CUDA |\n|---|---|")
    for k, v in worst.items():
        print(f"| {k} | {v:.2e} |")
    print(f"\nmask IoU CPU vs CUDA over all instances and frames: {inter / max(union, 1):.5f}")
    print(f"same instances in the same order: {same}; all within atol 1e-3: {max(worst.values()) <= 1e-3}")
    return 0 if same and max(worst.values()) <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
