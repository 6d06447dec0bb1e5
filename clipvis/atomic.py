"""Atomic writes: a reader never sees a half-written file.

Everything is written to a temporary file in the destination's own folder (so
the final `os.replace` is a rename on one file system, which POSIX makes
atomic) and moved into place only once complete. On any error the temporary
file is removed and the old destination, if any, is left untouched.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path, *, suffix: str | None = None):
    """Yield a temporary path next to `path`; move it onto `path` on success.

    For writers that want a file name rather than a file object (ffmpeg,
    cv2.VideoWriter, PIL). `suffix` defaults to the destination's own suffix
    because such writers pick the container format from it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix is None:
        suffix = path.suffix or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    # mkstemp makes the file private (0600); give it the mode a plain open() would.
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def fsync_dir(folder) -> None:
    """Make the renames into `folder` durable: POSIX keeps a file's name in its
    folder, which must be synced too for the name to survive a power cut."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            # fsync so a crash right after the rename cannot leave an empty file.
            os.fsync(f.fileno())
    return path


def write_text(path, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes(path, text.encode(encoding))


def write_json(path, obj, *, indent: int | None = None) -> Path:
    # Serialise first: a value json cannot encode must fail before the disk is touched.
    text = json.dumps(obj, indent=indent, ensure_ascii=False, allow_nan=False)
    return write_text(path, text + "\n")


@contextlib.contextmanager
def atomic_dir(path):
    """Yield a temporary folder next to `path`; it becomes `path` on success.

    A folder cannot be renamed onto a non-empty one, so an existing `path` is
    first renamed aside and deleted only after the new folder is in place.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, old / "x")
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
