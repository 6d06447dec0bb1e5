#!/usr/bin/env bash
# Every GPU check in one go, for a short lease (about 6 minutes on an H100):
# bench/gpu.sh (speed, per-stage split, CUDA vs CPU on the oracle), the two
# deformable samplings on CUDA, a short
# training benchmark, and `clipvis label` under torchrun on the GPU vs the CPU.
# Output: bench/out/gpu_all.md (and $OUT/gpu_all.md when $OUT is set).
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
{
  "${PYTHON:-python3}" -c "import torch, open_clip, timm; print('torch', torch.__version__, 'open_clip', open_clip.__version__, 'timm', timm.__version__, torch.cuda.get_device_name())"
  bash bench/gpu.sh
  echo; echo "## Deformable sampling on CUDA: grid_sample vs gather, one layer, 10 frames"
  timeout 60 "${PYTHON:-python3}" bench/bench_sampling.py --device cuda --frames 10
  echo; echo "## Training, ConvNeXt-B, crop 1024, batch 2, AMP"
  timeout 150 "${PYTHON:-python3}" bench/gpu_train.py --iters 60 --warmup 20 --workers 8
  echo; echo "## clipvis label under torchrun on the GPU vs the CPU, oracle checkpoint"
  timeout 120 "${PYTHON:-python3}" bench/gpu_label.py
} 2>&1 | grep -v "^WARNING" | tee bench/out/gpu_all.md
[ -n "${OUT:-}" ] && cp bench/out/gpu_all.md bench/out/gpu.md "$OUT/" 2>/dev/null
exit 0
