"""Sessions expire: on a public deployment every visitor's uploads would
otherwise stay forever. With `--session-ttl-days N` (CLIPVIS_SESSION_TTL_DAYS)
a session not used for N days is removed with everything in its folder (its
upload, frames, database, analyses, exports), at start and every hour.

Last use: the latest of the session's own record of its last edit and the
time its database file was written or it was opened (resume touches it).
Only session folders are removed (<workdir>/<browser id>/<session id>/, both
ids as the studio makes them): never another file of the work folder, never a
session a tab has open.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from app.session import store
from app.session.db import FILE
from app.session.frames import SAFE_ID

DAY = 86400.0
EVERY_SECONDS = 3600.0


def last_used(folder: Path) -> float:
    """The session's last edit (its own record) or opening (the database file's time, which resume touches).
    Not the folder's or the WAL's times: reading the summary makes SQLite create its side files."""
    from app.session import legacy

    try:
        opened = (folder / FILE).stat().st_mtime
    except OSError:  # an old-layout session (or a half-made folder): its folder's time
        opened = folder.stat().st_mtime
    summary = store.summary(folder) or legacy.summary(folder) or {}
    return max(opened, float(summary.get("updated", 0.0)))


def mark_used(folder: Path) -> None:
    """The session was opened: it is in use even if nothing is edited."""
    try:
        os.utime(Path(folder) / FILE)
    except OSError:
        pass


def session_folders(root: Path):
    root = Path(root)
    for browser in sorted(root.iterdir()) if root.is_dir() else []:
        if browser.is_dir() and not browser.is_symlink() and SAFE_ID.match(browser.name):
            for folder in sorted(browser.iterdir()):
                if folder.is_dir() and not folder.is_symlink() and SAFE_ID.match(folder.name):
                    yield folder


def expire_sessions(root: Path, ttl_days: float, *, now: float | None = None, in_use=lambda folder: False) -> list:
    """Remove the sessions under `root` unused for more than `ttl_days`; returns their folders."""
    if not ttl_days or ttl_days <= 0:
        return []
    cutoff = (time.time() if now is None else now) - ttl_days * DAY
    removed = []
    for folder in list(session_folders(root)):
        if in_use(folder) or last_used(folder) >= cutoff:
            continue
        try:
            store.remove_folder(folder)
            removed.append(folder)
        except OSError as e:
            print(f"clipvis studio: could not remove an expired session ({e.strerror})", file=sys.stderr)
    return removed


def keep_expiring(root: Path, ttl_days: float, *, in_use=lambda folder: False, every: float = EVERY_SECONDS):
    """Expire now, then every `every` seconds on a daemon thread (None if sessions never expire)."""
    if not ttl_days or ttl_days <= 0:
        return None

    def loop():
        while True:
            removed = expire_sessions(root, ttl_days, in_use=in_use)
            if removed:
                print(f"clipvis studio: removed {len(removed)} session(s) unused for {ttl_days:g} days", flush=True)
            time.sleep(every)

    thread = threading.Thread(target=loop, name="clipvis-expiry", daemon=True)
    thread.start()
    return thread
