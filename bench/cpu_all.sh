#!/usr/bin/env bash
# Every CPU benchmark behind docs/PERFORMANCE.md, one after the other (about 20
# minutes on an idle 2-core machine). Run on a quiet machine: timings taken while
# other jobs run are slower and noisier. PYTHON: the interpreter (default python3).
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
py="${PYTHON:-python3}"
echo "== machine"; uptime; nproc
echo "== engine, CPU backend (the default on a CPU)"; "$py" bench/bench_engine.py
echo "== engine, reference path (the model as written)"; "$py" bench/bench_engine.py --backend reference
echo "== deformable sampling, one layer"; "$py" bench/bench_sampling.py
echo "== memory against length, input 240"; "$py" bench/bench_memory.py --frames 50 500 --min-size 240 --height 240 --width 432
echo "== memory against length, input 480"; "$py" bench/bench_memory.py --frames 50 500
echo "== the demo model"; "$py" bench/bench_demo.py
echo "== bounded inputs"; "$py" bench/bench_inputs.py
