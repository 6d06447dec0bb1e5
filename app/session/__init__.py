"""One video's shared document: tracks, vocabulary, edits with undo/redo, in SQLite.

    tracks.py       Track (mask references per frame), TrackSet, the vocabulary as JSON
    edits.py        Edit: a recorded difference; diff/applied/install
    operations.py   relabel, delete, merge, split, paint, copy forward, promote, ... (pure)
    from_engine.py  engine results -> tracks; re-query
    imports.py      YTVIS dataset/results JSON -> tracks
    frames.py       the upload under a generated name; display-frame cache; limits
    db.py           the SQLite file: schema, durable transactions, SaveError
    store.py        rows <-> objects; the session folder; listing
    masks.py        mask references -> masks (database rows, stored analyses)
    legacy.py       migration of sessions saved as JSON by earlier versions
    session.py      Session: ties them together; every change durable before it shows
"""
from app.session.db import SaveError
from app.session.frames import Limits, UploadError
from app.session.session import Session, StaleEdit
from app.session.tracks import Track, TrackSet

__all__ = ["Limits", "SaveError", "Session", "StaleEdit", "Track", "TrackSet", "UploadError"]
