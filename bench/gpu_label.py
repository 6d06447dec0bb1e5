"""`clipvis label` on one GPU under torchrun (NCCL) against the same run on the CPU.

    python bench/gpu_label.py [--oracle DIR] [--device cuda]

Writes three short videos from the oracle bundle's frames, labels them with
the bundle's checkpoint twice (CPU without torchrun; `torchrun --standalone
--nproc_per_node 1` on --device), and compares the two YTVIS datasets:
the same annotations (video, category), scores within 1e-3, mask IoU.
`--device cpu` runs the torchrun leg on the CPU (gloo): a check that the script runs.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from pycocotools import mask as mask_utils

REPO = Path(__file__).resolve().parents[1]


def write_videos(frames: np.ndarray, folder: Path) -> None:
    folder.mkdir(parents=True)
    for k, sl in enumerate((slice(None), slice(None, None, -1), slice(2, None))):
        clip = frames[sl]
        w = cv2.VideoWriter(str(folder / f"clip{k}.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 6,
                            (clip.shape[2], clip.shape[1]))
        for f in clip:
            w.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        w.release()


def run(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if proc.returncode:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}")
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--oracle", default=os.environ.get("CLIPVIS_ORACLE", str(REPO.parent / "shared" / "oracle")))
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()
    root = Path(args.oracle)
    summary = json.loads((root / "summary.json").read_text())
    min_size = int(min(np.load(root / "preprocess.npz")["image_size_hw"]))
    env = dict(os.environ, HF_HUB_OFFLINE="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    with tempfile.TemporaryDirectory(prefix="gpu_label_") as tmp:
        tmp = Path(tmp)
        write_videos(np.load(root / "input_video_uint8.npy"), tmp / "videos")
        (tmp / "vocab.txt").write_text("\n".join(summary["vocab"]))
        common = ["--videos", str(tmp / "videos"), "--vocab", str(tmp / "vocab.txt"), "--no-progress",
                  "--checkpoint", str(root / "model_final.pth"),
                  "--clip-config", str(root / f"{summary['clip_name']}.json"), "--min-size", str(min_size),
                  "--topk", "10"]
        env["CLIPVIS_CACHE"] = str(tmp / "cache")
        cpu_s = run([sys.executable, "-m", "clipvis", "label", *common, "--device", "cpu",
                     "--out", str(tmp / "cpu.json")], env)
        dev_s = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                     "-m", "clipvis", "label", *common, "--device", args.device, "--out", str(tmp / "dev.json")], env)
        a, b = json.loads((tmp / "cpu.json").read_text()), json.loads((tmp / "dev.json").read_text())
    ka = [(x["video_id"], x["category_id"]) for x in a["annotations"]]
    kb = [(x["video_id"], x["category_id"]) for x in b["annotations"]]
    score = max((abs(x["score"] - y["score"]) for x, y in zip(a["annotations"], b["annotations"])), default=0.0)
    inter = union = 0
    for x, y in zip(a["annotations"], b["annotations"]):
        for sa, sb in zip(x["segmentations"], y["segmentations"]):  # None where the instance is absent
            ma, mb = (mask_utils.decode(s).astype(bool) if s else False for s in (sa, sb))
            inter += int(np.sum(ma & mb))
            union += int(np.sum(ma | mb))
    same = ka == kb
    print(f"3 videos, {len(ka)} annotations on the CPU, {len(kb)} under torchrun on {args.device}; "
          f"wall {cpu_s:.1f} s (CPU) vs {dev_s:.1f} s ({args.device}, incl. process start)")
    print(f"same (video, category) in the same order: {same}; max score diff {score:.2e}; "
          f"mask IoU {inter / max(union, 1):.5f}")
    return 0 if same and score <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
