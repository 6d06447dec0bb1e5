"""What bf16 autocast (CPU) changes in the final instances, against fp32.

    python bench/bench_precision.py [--checkpoint CKPT --clip-config JSON --frames-npy FRAMES.npy --min-size N]

Defaults to the oracle bundle (../shared/oracle: the official format, random
weights) when it is there. Reports the time per frame of each precision and,
for the instances, how many (query, class) pairs agree, the score change and
the mask IoU of the pairs that agree.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis import InferenceConfig, load_predictor  # noqa: E402
from clipvis.vocab import Vocabulary  # noqa: E402

ORACLE = Path(__file__).resolve().parents[2] / "shared" / "oracle"


def run(args, precision):
    pred = load_predictor(args.checkpoint, clip_config=args.clip_config, device="cpu",
                          config=InferenceConfig(min_size=args.min_size, precision=precision, topk=args.topk))
    frames = np.load(args.frames_npy)
    pred.predict(list(frames[:2]), args.vocab)  # warm-up
    t0 = time.perf_counter()
    result = pred.predict(list(frames), args.vocab)
    return result, (time.perf_counter() - t0) / len(frames)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(ORACLE / "model_final.pth"))
    ap.add_argument("--clip-config", default=str(ORACLE / "convnext_base_tiny_oracle.json"))
    ap.add_argument("--frames-npy", default=str(ORACLE / "input_video_uint8.npy"))
    ap.add_argument("--vocab-json", default=str(ORACLE / "summary.json"))
    ap.add_argument("--min-size", type=int, default=200)
    ap.add_argument("--topk", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(2)
    args.vocab = Vocabulary.from_names(json.loads(Path(args.vocab_json).read_text())["vocab"])
    a, ta = run(args, "fp32")
    b, tb = run(args, "bf16")
    pairs_a = {(i.query, i.label): n for n, i in enumerate(a.instances)}
    pairs_b = {(i.query, i.label): n for n, i in enumerate(b.instances)}
    common = sorted(set(pairs_a) & set(pairs_b))
    score_rel, ious = [], []
    for key in common:
        ia, ib = a.instances[pairs_a[key]], b.instances[pairs_b[key]]
        score_rel.append(abs(ia.score - ib.score) / ia.score)
        inter = union = 0
        for t in range(a.num_frames):
            ma, mb = a.mask(pairs_a[key], t), b.mask(pairs_b[key], t)
            inter += int((ma & mb).sum())
            union += int((ma | mb).sum())
        ious.append(inter / union if union else 1.0)
    print(f"| | fp32 | bf16 |\n|---|---|---|\n| s/frame | {ta:.3f} | {tb:.3f} |")
    print(f"\ninstances: {len(common)}/{len(a.instances)} (query, class) pairs agree; "
          f"score change median {100 * np.median(score_rel):.2f}% (max {100 * max(score_rel):.2f}%); "
          f"video mask IoU median {np.median(ious):.4f} (min {min(ious):.4f})")


if __name__ == "__main__":
    main()
