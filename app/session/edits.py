"""Edits as recorded differences, for undo, redo and the stored history.

Every operation (relabel, merge, brush stroke, re-query, ...) is a pure
function that proposes new versions of the tracks it touches; `diff` turns
that into an `Edit` holding, per track, the metadata before and after and the
frames whose mask reference changed (both references, so either direction can
be applied). Undo applies the before-values, redo the after-values; both set
absolute values, so applying an edit twice is harmless.

`diff` and `applied` cost what the edit changes: a track whose reference array
is the same object is not compared, and a changed one is compared with one
vectorised pass (36 KB at 4,550 frames).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from app.session.tracks import Track, TrackSet, vocabulary_from_dict, vocabulary_to_dict

NO_FRAMES = np.zeros(0, np.int64)


@dataclass
class TrackChange:
    id: int
    before: dict | None  # Track.meta() before; None: the track did not exist
    after: dict | None  # None: the track is deleted
    frames: np.ndarray = field(default_factory=lambda: NO_FRAMES)  # frames whose reference changed
    refs_before: np.ndarray = field(default_factory=lambda: NO_FRAMES)  # their references before
    refs_after: np.ndarray = field(default_factory=lambda: NO_FRAMES)


@dataclass
class Edit:
    label: str  # what the user sees in the history ("Merge #4 into #2")
    changes: list[TrackChange]
    # Whole-document fields the edit changes ("vocabulary", "dismissed", "analysis"), before and after.
    fields_before: dict = field(default_factory=dict)
    fields_after: dict = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    @property
    def empty(self) -> bool:
        return not self.changes and self.fields_before == self.fields_after

    @property
    def track_ids(self) -> set[int]:
        return {c.id for c in self.changes}


def diff(state: TrackSet, new_tracks: dict, label: str, *, vocabulary=None, dismissed=None, fields=None) -> Edit:
    """The edit that takes `state` to `new_tracks` ({id: Track, or None to delete}),
    to the given vocabulary and dismissed query slots if not None, and to the
    other whole-document `fields` ({name: (before, after)})."""
    changes = []
    for tid, new in new_tracks.items():
        old = state.tracks.get(tid)
        if old is None and new is None:
            continue
        if new is not None and len(new.refs) != state.num_frames:
            raise ValueError(f"track #{tid} has {len(new.refs)} frames, the video {state.num_frames}")
        before = None if old is None else old.meta()
        after = None if new is None else new.meta()
        a = state.absent() if old is None else old.refs
        b = state.absent() if new is None else new.refs
        frames = NO_FRAMES if a is b else np.flatnonzero(a != b)
        if before != after or len(frames):
            changes.append(TrackChange(id=tid, before=before, after=after, frames=frames,
                                       refs_before=a[frames], refs_after=b[frames]))
    before, after = {}, {}
    if vocabulary is not None and vocabulary != state.vocabulary:
        before["vocabulary"], after["vocabulary"] = vocabulary_to_dict(state.vocabulary), vocabulary_to_dict(vocabulary)
    if dismissed is not None and set(dismissed) != state.dismissed:
        before["dismissed"], after["dismissed"] = sorted(state.dismissed), sorted(dismissed)
    for name, (old, new) in (fields or {}).items():
        if old != new:
            before[name], after[name] = old, new
    return Edit(label=label, changes=changes, fields_before=before, fields_after=after)


def applied(state: TrackSet, edit: Edit, *, forward: bool = True) -> dict:
    """{track id: the Track it becomes, or None} after applying the edit
    (forward: redo) or its inverse (undo). Changes nothing."""
    out = {}
    for ch in edit.changes:
        meta = ch.after if forward else ch.before
        if meta is None:
            out[ch.id] = None
            continue
        current = state.tracks.get(ch.id)
        refs = state.absent() if current is None else current.refs.copy()
        refs[ch.frames] = ch.refs_after if forward else ch.refs_before
        out[ch.id] = Track.from_meta(meta, refs)
    return out


def install(state: TrackSet, tracks: dict, fields: dict) -> None:
    """Put the result of `applied` (and an edit's document fields) into `state`."""
    for tid, track in tracks.items():
        if track is None:
            state.tracks.pop(tid, None)
        else:
            state.tracks[tid] = track
    if "vocabulary" in fields:
        state.vocabulary = vocabulary_from_dict(fields["vocabulary"])
    if "dismissed" in fields:
        state.dismissed = set(fields["dismissed"])


def apply(state: TrackSet, edit: Edit, *, forward: bool = True) -> None:
    """Apply an edit (forward: redo) or its inverse (undo) to `state` in place."""
    install(state, applied(state, edit, forward=forward), edit.fields_after if forward else edit.fields_before)
