#!/usr/bin/env bash
# GPU checks for a machine with an NVIDIA GPU, at most ~10 minutes:
#  1. frames per second at 480p (ConvNeXt-B, random weights), fp16 autocast and fp32, per-stage split;
#  2. CUDA against CPU on the oracle bundle (atol 1e-3);
#  3. click-to-track (SAM 2.1 tiny, random weights, bf16 autocast): click to mask, propagation at 100 and
#     455 frames (s/frame, peak memory), labelling a clicked 455-frame track (bench/bench_prompt.py);
#  4. the same through the studio: click to preview at its route, one Track (bench/bench_click_studio.py).
# The oracle folder: $CLIPVIS_ORACLE, else ../shared/oracle. Output: bench/out/gpu.md
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/out
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
{
  echo "# GPU checks ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1))"
  echo; echo "## ConvNeXt-B at 480x864, fp16 autocast"
  timeout 240 "${PYTHON:-python3}" bench/bench_engine.py --device cuda --precision fp16 --frames 40 --window 10 --threads 8
  echo; echo "## ConvNeXt-B at 480x864, fp32"
  timeout 180 "${PYTHON:-python3}" bench/bench_engine.py --device cuda --precision fp32 --frames 20 --window 10 --threads 8
  echo; echo "## CUDA against CPU, oracle bundle"
  timeout 120 "${PYTHON:-python3}" bench/gpu_agreement.py
  echo; echo "## Click-to-track: SAM 2.1 tiny (random weights) at 480x854, bf16 autocast"
  timeout 300 "${PYTHON:-python3}" bench/bench_prompt.py --device cuda --frames 100 455 --threads 8
  echo; echo "## Click to track through the studio (route and Track handler), 100 frames"
  timeout 120 "${PYTHON:-python3}" bench/bench_click_studio.py --device cuda --frames 100 --threads 8
} 2>&1 | grep -v "^WARNING" | tee bench/out/gpu.md
