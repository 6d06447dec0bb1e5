#!/usr/bin/env bash
# Training benchmark for a machine with an NVIDIA GPU (at most 10 minutes):
# ~200 iterations of the full ConvNeXt-B CLIP-VIS (random CLIP weights, 100
# queries, 9 decoder layers) at a 1024 crop with AMP on generated data; prints
# iterations/s and peak GPU memory. `bash bench/gpu_train.sh --smoke` runs 2
# iterations of a tiny model on the CPU to show the script works.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1  # random CLIP weights: nothing to download
# PYTHON: the interpreter to use (the tests pass their own, which need not be on PATH as `python`).
exec timeout 590 "${PYTHON:-python3}" bench/gpu_train.py "$@"
