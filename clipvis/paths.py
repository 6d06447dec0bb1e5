"""Checks on paths before any work is spent on them.

Inputs must be regular files or folders: reading a FIFO blocks forever, and a
device (/dev/zero, /dev/urandom) never ends. Outputs are checked up front, so a
run that takes an hour does not fail at its last step because `--out` names a
folder or a place that cannot be written.
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class NotARegularFile(ValueError):
    """A FIFO, device or socket where a file was expected."""


_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def special_kind(path) -> str | None:
    """What `path` is if it is neither a regular file, a folder nor missing (symlinks followed)."""
    try:
        mode = os.stat(path).st_mode  # stat never blocks, even on a FIFO
    except OSError:
        return None
    return next((name for test, name in _KINDS if test(mode)), None)


def require_readable(path, what: str = "input") -> Path:
    """`path` as a Path, if it is a regular file or a folder; FileNotFoundError if
    missing, NotARegularFile for a FIFO, device or socket."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    kind = special_kind(path)
    if kind is not None:
        raise NotARegularFile(f"{path}: is {kind}, not a file; give a {what} file or folder")
    return path


def check_output_file(path, *, name: str = "out") -> Path:
    """Raise ValueError (naming the argument as `name`) unless a file can be
    written at `path`: not a folder, not a special file, and its folder (or the
    nearest one that exists, where the missing ones will be made) writable."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"`{name}` {path} is a folder; give the name of the file to write in it, "
                         f"e.g. {path / 'results.json'}")
    kind = special_kind(path)
    if kind is not None:
        raise ValueError(f"`{name}` {path} is {kind}; give a regular file to write")
    _check_writable_folder(path.parent, name, path)
    return path


def check_output_dir(path, *, name: str = "out") -> Path:
    """Raise ValueError unless `path` is a folder, or can be made, and can be written."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"`{name}` {path} is a file; give a folder (it is made if missing)")
    _check_writable_folder(path, name, path)
    return path


def _check_writable_folder(folder: Path, name: str, target: Path):
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(f"`{name}` {target}: {existing} is a file, so no folder can be made there")
    # Try it: permissions alone do not say whether the file system is read-only.
    try:
        fd, probe = tempfile.mkstemp(prefix=".clipvis-write-test.", dir=existing)
    except OSError as e:
        raise ValueError(f"`{name}` {target}: cannot write in {existing} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(probe)
