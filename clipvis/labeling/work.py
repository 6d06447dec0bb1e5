"""The work folder: one file per finished (or failed) video, so a stopped run
resumes where it was.

    <work>/run.json              the settings the labels were made with
    <work>/videos/<key>.json     a finished video: a one-video YTVIS dataset
    <work>/failed/<key>.json     a video that could not be labelled, and why
    <work>/summary.json          the last run's summary

Every file is written atomically, so a kill at any moment leaves either the
whole file or none. Files are named by the video's key (a digest), never by a
user's file name. Labels made with other settings are never mixed in: a
rerun with different settings is refused unless asked to start over.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from clipvis.atomic import write_json
from clipvis.formats import YTVISDataset, YTVISError

RUN_FILE = "run.json"
RUN_FORMAT = "clipvis-label-work/1"
VIDEO_FORMAT = "clipvis-label-video/1"


class WorkFolderError(ValueError):
    """A work folder that cannot be used for this run (other settings, not ours)."""


def default_work_dir(out) -> Path:
    return Path(f"{out}.work")


class WorkFolder:
    def __init__(self, root):
        self.root = Path(root)

    def done_path(self, key: str) -> Path:
        return self.root / "videos" / f"{key}.json"

    def failed_path(self, key: str) -> Path:
        return self.root / "failed" / f"{key}.json"

    def prepare(self, settings: dict, *, restart: bool = False) -> None:
        """Create the folder, or check an existing one was made with `settings`."""
        settings = json.loads(json.dumps(settings))  # the form it takes on disk (tuples become lists)
        run_file = self.root / RUN_FILE
        if self.root.is_dir() and not run_file.exists() and any(self.root.iterdir()):
            raise WorkFolderError(f"{self.root} exists and is not a label work folder (it has no {RUN_FILE}); "
                                  "give another work_dir (--work-dir)")
        if run_file.exists():
            old = self._read_settings(run_file)
            if restart:
                for sub in ("videos", "failed"):
                    shutil.rmtree(self.root / sub, ignore_errors=True)
            elif old != settings:
                changed = [k for k in sorted(set(old) | set(settings)) if old.get(k) != settings.get(k)]
                shown = "; ".join(f"{k}: {old.get(k)!r} then, {settings.get(k)!r} now" for k in changed[:4])
                raise WorkFolderError(
                    f"{self.root} holds labels made with other settings ({shown}). Rerun with the same "
                    "settings to resume, restart (--restart) to discard those labels, or give another work_dir (--work-dir)")
        write_json(run_file, {"format": RUN_FORMAT, "settings": settings}, indent=2)
        # A kill during a write leaves its hidden temporary file; no process writes now (ranks wait
        # for the plan), so whatever is left is such debris.
        for sub in ("videos", "failed"):
            for tmp in (self.root / sub).glob(".*"):
                tmp.unlink(missing_ok=True)

    def _read_settings(self, run_file: Path) -> dict:
        try:
            obj = json.loads(run_file.read_text(encoding="utf-8"))
            if obj.get("format") != RUN_FORMAT or not isinstance(obj.get("settings"), dict):
                raise ValueError("unknown format")
        except (ValueError, OSError, AttributeError) as e:
            raise WorkFolderError(f"{run_file}: not a label work folder's settings ({e}); "
                                  "give another work_dir (--work-dir)") from None
        return obj["settings"]

    def is_done(self, key: str) -> bool:
        return self.done_path(key).is_file()

    def save_done(self, key: str, *, name: str, dataset: YTVISDataset, rank: int = 0, note: str | None = None):
        write_json(self.done_path(key), {"format": VIDEO_FORMAT, "name": name, "rank": rank, "note": note,
                                         "dataset": dataset.to_json()})
        self.clear_failed(key)  # an earlier failure is history now

    def clear_failed(self, key: str):
        self.failed_path(key).unlink(missing_ok=True)

    def save_failed(self, key: str, *, name: str, reason: str, rank: int = 0):
        write_json(self.failed_path(key), {"name": name, "rank": rank, "reason": reason})

    def load_done(self, key: str) -> tuple[YTVISDataset, dict] | None:
        """(the video's dataset, the record's other fields), or None if not done.

        A file that cannot be read is moved aside (`.bad`, kept for inspection)
        so that the next run labels the video again; WorkFolderError says so.
        """
        path = self.done_path(key)
        if not path.is_file():
            return None
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
            if obj.get("format") != VIDEO_FORMAT:
                raise ValueError(f"format is {obj.get('format')!r}, not {VIDEO_FORMAT}")
            dataset = YTVISDataset.from_json(obj["dataset"], source=str(path))
        except (ValueError, KeyError, AttributeError, OSError, YTVISError) as e:
            path.replace(path.with_suffix(".json.bad"))
            raise WorkFolderError(f"its work file was unreadable ({e}); moved it aside, "
                                  "the next run labels the video again") from None
        return dataset, {k: v for k, v in obj.items() if k != "dataset"}

    def load_failed(self, key: str) -> str | None:
        path = self.failed_path(key)
        if not path.is_file():
            return None
        try:
            return str(json.loads(path.read_text(encoding="utf-8"))["reason"])
        except (ValueError, KeyError, TypeError, OSError):
            return "failed (the failure record is unreadable)"
