"""One user's work on one video: tracks, edits with undo/redo, saved on every edit.

    tracks.py       Track, TrackSet (the annotation) and the vocabulary as JSON
    edits.py        Edit: a recorded difference; diff/apply; History (undo/redo)
    operations.py   relabel, delete, merge, split, paint, copy forward, promote, ... (pure)
    from_engine.py  engine results -> tracks; re-query
    imports.py      YTVIS dataset/results JSON -> tracks
    frames.py       the upload under a generated name; display-frame cache; limits
    store.py        the session folder: atomic save, crash-safe load, listing
    session.py      Session: ties them together; every change saved before it returns
"""
from app.session.frames import Limits, UploadError
from app.session.session import Session
from app.session.tracks import Track, TrackSet

__all__ = ["Limits", "Session", "Track", "TrackSet", "UploadError"]
