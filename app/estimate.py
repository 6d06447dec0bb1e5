"""How long a run will take, said before Run is pressed.

Seconds per frame are measured on this hardware: every finished run's video
pass (frames and seconds) updates a running mean per model and device, kept
in the work folder so a restart remembers it. Before any run, a prior per
device stands in: the CPU figure is the issue's 2.5 s a frame at 480p on a
shared 2-core machine, the GPU one the H100 fp32 figure of
docs/PERFORMANCE.md (25 frames a second), the demo model's a measured order
of magnitude. Time grows with the model input's area, so figures are kept
per frame at a 480-pixel input and scaled by (input / 480)^2.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path

from clipvis.atomic import write_text

REFERENCE_SIZE = 480
PRIOR_SECONDS_PER_FRAME = {"cpu": 2.5, "cuda": 0.04, "zero-gpu": 0.04}
DEMO_PRIOR_SECONDS_PER_FRAME = {"cpu": 0.05, "cuda": 0.01, "zero-gpu": 0.01}
KEEP_RUNS = 5  # the mean follows the last few runs (a shared machine's load changes)
FILE = ".run_times.json"


class RunTimes:
    def __init__(self, folder: Path | None = None):
        self.path = Path(folder) / FILE if folder is not None else None
        self._lock = threading.Lock()
        self._times: dict = {}
        if self.path is not None and self.path.is_file():
            try:
                self._times = {k: v for k, v in json.loads(self.path.read_text()).items()
                               if isinstance(v, dict) and v.get("spf", 0) > 0}
            except (OSError, ValueError):
                self._times = {}  # a damaged file: start from the priors again

    @staticmethod
    def _key(model: str, device: str) -> str:
        return f"{model}@{device}"

    def seconds_per_frame(self, model: str, device: str, min_size: int) -> tuple[float, int]:
        """(seconds a frame at this input size, runs it was measured over; 0: the prior)."""
        scale = (max(int(min_size), 1) / REFERENCE_SIZE) ** 2
        known = self._times.get(self._key(model, device))
        if known:
            return known["spf"] * scale, int(known["runs"])
        priors = DEMO_PRIOR_SECONDS_PER_FRAME if model == "demo" else PRIOR_SECONDS_PER_FRAME
        return priors.get(device, priors["cpu"]) * scale, 0

    def record(self, model: str, device: str, frames: int, seconds: float, min_size: int) -> None:
        """A finished video pass: `frames` in `seconds` at input `min_size`."""
        if frames <= 0 or seconds <= 0:
            return
        spf = seconds / frames / (max(int(min_size), 1) / REFERENCE_SIZE) ** 2
        with self._lock:
            key = self._key(model, device)
            old = self._times.get(key)
            runs = (old["runs"] + 1) if old else 1
            weight = 1 / min(runs, KEEP_RUNS)
            mean = spf if not old else old["spf"] + weight * (spf - old["spf"])
            self._times[key] = {"spf": mean, "runs": runs}
            if self.path is not None:
                try:
                    write_text(self.path, json.dumps(self._times, indent=1))
                except OSError:
                    pass  # the estimate is a courtesy: a read-only folder must not fail the run

    def describe(self, frames: int, model: str, device: str, min_size: int) -> str:
        """'about 25 s for 10 frames (2.5 s a frame at 480 px on this CPU, measured over 3 runs)'."""
        spf, runs = self.seconds_per_frame(model, device, min_size)
        where = {"cpu": "this CPU", "cuda": "this GPU", "zero-gpu": "ZeroGPU"}.get(device, device)
        source = f"measured over {runs} run{'s' if runs != 1 else ''}" if runs else "a first guess until a run is measured"
        return (f"about {duration_text(frames * spf)} for {frames} frames ({spf:.2g} s a frame at {min_size} px "
                f"on {where}, {source})")


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
