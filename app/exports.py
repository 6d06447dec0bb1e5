"""Downloads: YTVIS dataset and results JSON, DAVIS palette PNGs (zip), overlay mp4.

Exports hold the tracks the user sees: hidden tracks and those under the
score threshold are left out (the message says how many). The dataset form
keeps each track's studio fields under "studio", so importing it back into
the same session reproduces the tracks exactly.

Files go to a fresh folder under the system temp directory, from where
Gradio copies them into its cache to serve them: the session folders are
never exposed to the web server.
"""
from __future__ import annotations

import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from clipvis.atomic import atomic_path, write_json
from clipvis.formats import results_to_json, write_dataset
from clipvis.formats.davis import export_davis
from clipvis.formats.overlay import export_overlay

from app.session.store import to_dataset

EXPORT_ROOT = Path(tempfile.gettempdir()) / "clipvis-studio-exports"
KEEP_SECONDS = 3600

KINDS = {"dataset": "YTVIS dataset JSON", "results": "YTVIS results JSON", "davis": "DAVIS PNG masks (zip)",
         "overlay": "overlay video (mp4)"}


def _fresh_folder() -> Path:
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in EXPORT_ROOT.iterdir():  # downloads are served within seconds; keep the temp dir small
        if old.is_dir() and now - old.stat().st_mtime > KEEP_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=EXPORT_ROOT))


def _stem(session) -> str:
    # A download name from the user's file name, reduced to safe characters.
    raw = Path(session.meta.original_name).stem
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in raw)[:60].strip("_")
    return safe or "video"


def export(session, kind: str) -> tuple[Path, str]:
    """Write one export; returns (file, message)."""
    if kind not in KINDS:
        raise ValueError(f"unknown export {kind!r}")
    with session.lock:
        shown = session.state.visible(session.meta.threshold)
        left_out = len(session.state.tracks) - len(shown)
        ds = to_dataset(session.meta, session.state, shown)
    if not shown and kind != "dataset":
        raise ValueError("there are no instances to export (none, or all hidden / under the threshold)")
    folder = _fresh_folder()
    stem = _stem(session)
    if kind == "dataset":
        path = write_dataset(folder / f"{stem}_ytvis_dataset.json", ds)
    elif kind == "results":
        path = write_json(folder / f"{stem}_ytvis_results.json", results_to_json(ds.annotations))
    elif kind == "davis":
        export_davis(ds, folder / "davis")
        path = folder / f"{stem}_davis.zip"
        with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted((folder / "davis").rglob("*")):
                if f.is_file():
                    zf.write(f, f.relative_to(folder / "davis"))
    else:
        names = {c.id: c.name for c in ds.categories}
        path = export_overlay(folder / f"{stem}_overlay.mp4", session.open_video(), ds.annotations,
                              category_names=names, fps=session.meta.fps or None)
    note = f" ({left_out} hidden or under the threshold left out)" if left_out else ""
    return path, f"Exported {len(shown)} instances as {KINDS[kind]}{note}."
