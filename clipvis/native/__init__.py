"""Optional C kernels for the CPU, compiled on first use (see build.py)."""
from .build import load_library, native_enabled
from .sampling import deform_sample, native_sampling_available
from .winograd import winograd_available, winograd_conv3x3

__all__ = ["deform_sample", "load_library", "native_enabled", "native_sampling_available", "winograd_available",
           "winograd_conv3x3"]
