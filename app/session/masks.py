"""Mask references to masks: the `masks` table, and the stored analyses of runs.

A positive reference is a row of the database (read with the calling thread's
read-only connection, so viewing never waits for an edit); a negative one is a
query's mask in a run's stored analysis, decoded on demand. Rows never change
once written and analyses never change once stored, so a reference names one
mask for good and caches can be keyed by it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from clipvis import analysis_io
from clipvis.formats.rle import mask_to_rle, rle_to_mask

from app.session.db import Database
from app.session.tracks import PENDING, lazy_parts


class LRU:
    """A small thread-safe least-recently-used cache, bounded by entries."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        return None

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)
        return value


class Analyses:
    """The stored analyses of a session's runs: analysis/run-<n>.safetensors,
    loaded when first needed (two kept in memory)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder) / "analysis"
        self._loaded = LRU(2)
        self._lock = threading.Lock()

    def path(self, run: int) -> Path:
        return self.folder / f"run-{int(run)}.safetensors"

    def save(self, run: int, stored: analysis_io.StoredAnalysis) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        path = analysis_io.save(stored, self.path(run))
        self._loaded.put(run, stored)
        return path

    def get(self, run: int) -> analysis_io.StoredAnalysis:
        """The run's analysis; FileNotFoundError if it is not stored (any more)."""
        hit = self._loaded.get(run)
        if hit is not None:
            return hit
        with self._lock:  # one load at a time: an analysis can be hundreds of MB
            hit = self._loaded.get(run)
            if hit is None:
                path = self.path(run)
                if not path.is_file():
                    raise FileNotFoundError(f"the analysis of run {run} is not stored")
                hit = self._loaded.put(run, analysis_io.load(path))
        return hit

    def runs_on_disk(self) -> set[int]:
        out = set()
        for p in self.folder.glob("run-*.safetensors") if self.folder.is_dir() else []:
            try:
                out.add(int(p.stem.split("-", 1)[1]))
            except ValueError:
                continue
        return out

    def remove(self, run: int) -> None:
        self.path(run).unlink(missing_ok=True)


class MaskStore:
    """Masks by reference: RLE for exports, boolean masks for the viewer."""

    def __init__(self, db: Database, analyses: Analyses, height: int, width: int):
        self.db = db
        self.analyses = analyses
        self.size = [int(height), int(width)]
        self._counts = LRU(4096)  # a few MB of RLE strings
        self._shown = LRU(1024)  # masks at display size

    def counts(self, ref: int) -> bytes:
        """The compressed RLE string of a stored mask (a positive reference)."""
        ref = int(ref)
        if not 0 < ref < PENDING:
            raise ValueError(f"{ref} is not a stored mask")
        hit = self._counts.get(ref)
        if hit is None:
            row = self.db.reader().execute("SELECT counts FROM masks WHERE id = ?", (ref,)).fetchone()
            if row is None:
                raise KeyError(f"mask {ref} is missing from the session")
            hit = self._counts.put(ref, bytes(row[0]))
        return hit

    def rle(self, ref: int, t: int) -> dict | None:
        """The mask of reference `ref` on frame t as compressed RLE (str counts), or None if absent."""
        ref = int(ref)
        if ref == 0:
            return None
        if ref > 0:
            return {"size": list(self.size), "counts": self.counts(ref).decode("ascii")}
        return mask_to_rle(self.mask(ref, t))

    def mask(self, ref: int, t: int) -> np.ndarray:
        """(H, W) bool at the video's full size."""
        ref = int(ref)
        if ref > 0:
            return rle_to_mask({"size": self.size, "counts": self.counts(ref)})
        run, query = lazy_parts(ref)
        return self.analyses.get(run).analysis.query_masks(int(t), [query])[0]

    def shown(self, ref: int, t: int, size: tuple[int, int]) -> np.ndarray:
        """(h, w) bool at a display size (width, height), cached."""
        ref = int(ref)
        key = (ref if ref > 0 else (ref, int(t)), tuple(size))
        hit = self._shown.get(key)
        if hit is None:
            m = self.mask(ref, t)
            if (m.shape[1], m.shape[0]) != tuple(size):
                m = cv2.resize(m.view(np.uint8), tuple(size), interpolation=cv2.INTER_NEAREST).view(bool)
            hit = self._shown.put(key, m)
        return hit
