"""Text classifier for a whole vocabulary (default LV-VIS: 1,196 classes x 14
templates = 16,744 prompts) with ConvNeXt-B's text tower (random weights).

    python bench/bench_text.py [--vocab lvvis] [--threads 2] [--check 256]

Measures: the first encoding (empty cache), the second (from the disk cache),
and the largest difference to the untrimmed 77-token encoding on a sample.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis.build import create_clip  # noqa: E402
from clipvis.text import VILD_TEMPLATES, TextEncoder  # noqa: E402
from clipvis.vocab import load_vocabulary  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", default="lvvis")
    ap.add_argument("--clip-model", default="convnext_base_w_320")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--check", type=int, default=256, help="prompts compared against the untrimmed encoding")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    clip, tok = create_clip(args.clip_model)
    vocab = load_vocabulary(args.vocab)
    prompts = [t.format(s) for syns in vocab.synonyms for s in syns for t in VILD_TEMPLATES]
    with tempfile.TemporaryDirectory() as cache:
        enc = TextEncoder(clip, tok, cache_dir=Path(cache))
        t0 = time.perf_counter()
        rows, _ = enc.classifier(vocab.synonyms)
        first = time.perf_counter() - t0
        again = TextEncoder(clip, tok, cache_dir=Path(cache))  # a new process would start like this
        t0 = time.perf_counter()
        rows2, _ = again.classifier(vocab.synonyms)
        cached = time.perf_counter() - t0
        assert torch.equal(rows, rows2)
        sample = prompts[:: max(1, len(prompts) // args.check)][: args.check]
        full = TextEncoder(clip, tok, cache_dir=Path(cache) / "full", trim=False)
        diff = (enc.encode_prompts(sample) - full.encode_prompts(sample)).abs().max().item()
    print(f"{args.clip_model}, {len(vocab)} classes, {len(prompts)} prompts, {torch.get_num_threads()} threads")
    print("| step | seconds |\n|---|---|")
    print(f"| first encoding (trimmed, length-sorted batches, fp32) | {first:.1f} |")
    print(f"| again, from the disk cache | {cached:.2f} |")
    print(f"| max abs difference to untrimmed 77-token encoding ({len(sample)} prompts) | {diff:.2e} |")


if __name__ == "__main__":
    main()
