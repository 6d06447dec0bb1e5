"""Re-query: classify an analysed video against a new vocabulary, without the
video pass (text encoding aside, it is cached per prompt).

    python bench/bench_requery.py [--frames 100] [--classes 20] [--queries 100] [--dim 640]

The analysis is the real data structure at ConvNeXt-B's sizes, filled with
random values; what is timed is exactly `clipvis.classify.classify_analysis`.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis.classify import classify_analysis  # noqa: E402
from clipvis.masks import FrameMaskCode  # noqa: E402
from clipvis.structures import VideoAnalysis, VideoMeta  # noqa: E402
from clipvis.vocab import Vocabulary  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--classes", type=int, default=20)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--dim", type=int, default=640)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(0)
    q, t = args.queries, args.frames
    code = FrameMaskCode.encode(torch.randn(q, 8, 8, generator=g))
    analysis = VideoAnalysis(
        meta=VideoMeta(num_frames=t, frame_hw=(480, 864), input_hw=(480, 864), padded_hw=(480, 864)),
        object_logits=torch.randn(q, t, 2, generator=g), ious=torch.rand(q, t, generator=g),
        pooled=torch.randn(q, t, args.dim, generator=g), pool_empty=torch.zeros(q, t, dtype=torch.bool),
        pos_sigmoid_sum=torch.rand(q, t, generator=g) * 100, pos_count=torch.rand(q, t, generator=g) * 150,
        mask_codes=[code] * t)
    vocab = Vocabulary.from_names([f"class {i}" for i in range(args.classes)])
    rows = torch.nn.functional.normalize(torch.randn(args.classes, args.dim, generator=g), dim=-1)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        result = classify_analysis(analysis, vocab, text_rows=rows, synonyms_per_class=[1] * args.classes,
                                   logit_scale=torch.tensor(np.log(100.0)), topk=50)
        times.append(time.perf_counter() - t0)
    print(f"{q} queries x {t} frames x {args.dim}-d, {args.classes} classes -> {len(result.instances)} instances")
    print(f"re-query median {1000 * np.median(times):.1f} ms (min {1000 * min(times):.1f}, {args.repeat} runs)")


if __name__ == "__main__":
    main()
