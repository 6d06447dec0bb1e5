"""bench/gpu_train.sh is meant for a GPU machine this project may rarely get:
its --smoke mode (tiny model, 2 iterations, CPU) keeps it known to work."""
import os
import subprocess
import sys

from tests.conftest import REPO


def test_gpu_train_bench_smoke():
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHON": sys.executable}  # not `python` from PATH
    proc = subprocess.run(["bash", "bench/gpu_train.sh", "--smoke"], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "iter 2/2" in proc.stderr
    row = [line for line in proc.stdout.splitlines() if line.startswith("| CPU")]
    assert len(row) == 1 and float(row[0].split("|")[6]) > 0  # iterations per second
