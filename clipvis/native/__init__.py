"""Optional C kernels for the CPU, compiled on first use (see build.py)."""
from .build import load_library, native_enabled
from .mask_pixels import mask_pixels
from .sampling import deform_sample, native_sampling_available
from .winograd import winograd_available, winograd_conv3x3

__all__ = ["deform_sample", "load_library", "mask_pixels", "native_enabled", "native_sampling_available",
           "winograd_available", "winograd_conv3x3"]
