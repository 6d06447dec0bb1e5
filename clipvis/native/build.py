"""Compile a C kernel of this package on first use, cache it, load it with ctypes.

The kernels are optional accelerators for the CPU: every one has a PyTorch
equivalent, used when no C compiler is found, when compiling fails, or when
`CLIPVIS_NATIVE=0`. A plain C file and ctypes, not a torch extension: each
builds in about a second with the system's `cc` and needs no torch headers.

The library is built for this CPU (-march=native) and cached under
`$CLIPVIS_CACHE/native` (default ~/.cache/clipvis/native), keyed by the source,
the flags, the compiler and the CPU's features, so a cache shared between
machines never hands one a library built for another.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
from pathlib import Path

from ..atomic import atomic_path
from ..text import default_cache_dir

log = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).resolve().parent
# No -ffast-math: with it, GCC can link code that flushes denormals to zero for
# the whole process (torch included). These flags allow what the kernels need.
_MATH = ["-O3", "-fno-math-errno", "-fno-trapping-math", "-ffp-contract=fast"]
FLAG_SETS = (  # the first that compiles wins
    [*_MATH, "-march=native", "-fopenmp"],
    [*_MATH, "-fopenmp"],  # compilers without -march=native
    _MATH,  # compilers without OpenMP (e.g. Apple's clang): the caller splits the rows over threads
)
_loaded: dict[str, ctypes.CDLL | None] = {}


def native_enabled() -> bool:
    return os.environ.get("CLIPVIS_NATIVE", "1") != "0"


def find_compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@functools.lru_cache(maxsize=None)
def _cpu_features() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next((line for line in f if line.startswith(("flags", "Features"))), "")
    except OSError:
        return platform.processor()


@functools.lru_cache(maxsize=None)
def _compiler_version(compiler: str) -> str:
    """Asked once per process, not once per library and flag set."""
    try:
        return subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""


def _fingerprint(source: bytes, compiler: str, flags: list[str]) -> str:
    h = hashlib.sha256(source)
    for part in (compiler, _compiler_version(compiler), " ".join(flags), platform.machine(), _cpu_features()):
        h.update(part.encode())
    return h.hexdigest()[:16]


def _compile(name: str, compiler: str, cache: Path) -> Path | None:
    """Build (or find in the cache) `name`.c with the first flag set that compiles."""
    source_path = SOURCE_DIR / f"{name}.c"
    source = source_path.read_bytes()
    errors = []
    for flags in FLAG_SETS:
        target = cache / f"{name}-{_fingerprint(source, compiler, flags)}.so"
        if target.exists():
            return target
        try:
            with atomic_path(target) as tmp:  # a half-written library is never loaded
                subprocess.run([compiler, *flags, "-shared", "-fPIC", str(source_path), "-o", str(tmp), "-lm"],
                               capture_output=True, text=True, timeout=120, check=True)
            return target
        except subprocess.CalledProcessError as e:
            errors.append(f"{' '.join(flags)}: {e.stderr.strip()[-500:]}")
    log.warning("could not compile %s.c with %s; using the PyTorch path instead:\n%s",
                name, compiler, "\n".join(errors))
    return None


def load_library(name: str) -> ctypes.CDLL | None:
    """The compiled `name`.c as a ctypes library, or None (with one warning) if it cannot be had."""
    if not native_enabled():
        return None
    if name in _loaded:
        return _loaded[name]
    lib = None
    compiler = find_compiler()
    if compiler is None:
        log.warning("no C compiler found (cc, gcc, clang or $CC): the CPU runs the slower PyTorch path "
                    "of %s", name)
    else:
        try:
            path = _compile(name, compiler, default_cache_dir() / "native")
            lib = ctypes.CDLL(str(path)) if path is not None else None
        except (OSError, subprocess.SubprocessError) as e:
            log.warning("could not build or load %s.c (%s); using the PyTorch path instead", name, e)
    _loaded[name] = lib
    return lib
