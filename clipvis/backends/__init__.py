"""Backends: faster ways to run the same model on one kind of device, applied
from outside `clipvis/modeling/` (which holds the official formulation only).

- `cpu`: CPUVideoPredictor, the CPU modules swapped into the model (cpu_modules.py).

`load_predictor` picks the CPU backend on a CPU device; `backend="reference"` runs
the model as written.
"""
from .cpu import CPUVideoPredictor
from .cpu_modules import use_cpu_modules, uses_cpu_modules

BACKENDS = ("auto", "reference", "cpu")


def check_backend(name: str):
    if name not in BACKENDS:
        raise ValueError(f"`backend` must be one of {', '.join(BACKENDS)}, got {name!r}")


__all__ = ["BACKENDS", "CPUVideoPredictor", "check_backend", "use_cpu_modules", "uses_cpu_modules"]
