"""Edits as recorded differences, for undo, redo and the on-disk history.

Every operation (relabel, merge, brush stroke, re-query, ...) is written as a
pure function that returns the new versions of the tracks it touches; `diff`
turns that into an `Edit` holding, per track, the metadata before and after
and only the frames whose mask changed. Undo applies the before-values, redo
the after-values. Both set absolute values, so applying an edit twice is
harmless, which is what crash recovery relies on (see store.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from app.session.tracks import Track, TrackSet, vocabulary_from_dict, vocabulary_to_dict


@dataclass
class TrackChange:
    id: int
    before: dict | None  # Track.meta() before; None: the track did not exist
    after: dict | None  # None: the track is deleted
    frames: list  # [(t, rle before or None, rle after or None)], changed frames only

    def to_json(self) -> dict:
        return {"id": self.id, "before": self.before, "after": self.after,
                "frames": [[t, a, b] for t, a, b in self.frames]}

    @classmethod
    def from_json(cls, obj) -> "TrackChange":
        return cls(id=int(obj["id"]), before=obj["before"], after=obj["after"],
                   frames=[(int(t), a, b) for t, a, b in obj["frames"]])


@dataclass
class Edit:
    label: str  # what the user sees in the history ("Merge #4 into #2")
    changes: list[TrackChange]
    # Whole-set fields the edit changes ("vocabulary", "dismissed"), before and after.
    fields_before: dict = field(default_factory=dict)
    fields_after: dict = field(default_factory=dict)
    time: float = field(default_factory=time.time)

    @property
    def empty(self) -> bool:
        return not self.changes and self.fields_before == self.fields_after

    def to_json(self) -> dict:
        return {"label": self.label, "time": self.time, "fields_before": self.fields_before,
                "fields_after": self.fields_after, "changes": [c.to_json() for c in self.changes]}

    @classmethod
    def from_json(cls, obj) -> "Edit":
        return cls(label=str(obj["label"]), time=float(obj.get("time", 0.0)),
                   fields_before=dict(obj.get("fields_before") or {}),
                   fields_after=dict(obj.get("fields_after") or {}),
                   changes=[TrackChange.from_json(c) for c in obj["changes"]])


def diff(state: TrackSet, new_tracks: dict, label: str, *, vocabulary=None, dismissed=None) -> Edit:
    """The edit that takes `state` to `new_tracks` ({id: Track, or None to delete}),
    and to the given vocabulary and dismissed query slots if not None."""
    changes = []
    for tid, new in new_tracks.items():
        old = state.tracks.get(tid)
        if old is None and new is None:
            continue
        before = None if old is None else old.meta()
        after = None if new is None else new.meta()
        old_segs = old.segmentations if old is not None else (None,) * state.num_frames
        new_segs = new.segmentations if new is not None else (None,) * state.num_frames
        if len(new_segs) != state.num_frames:
            raise ValueError(f"track #{tid} has {len(new_segs)} frames, the video {state.num_frames}")
        frames = [(t, a, b) for t, (a, b) in enumerate(zip(old_segs, new_segs)) if a != b]
        if before != after or frames:
            changes.append(TrackChange(id=tid, before=before, after=after, frames=frames))
    before, after = {}, {}
    if vocabulary is not None and vocabulary != state.vocabulary:
        before["vocabulary"], after["vocabulary"] = vocabulary_to_dict(state.vocabulary), vocabulary_to_dict(vocabulary)
    if dismissed is not None and set(dismissed) != state.dismissed:
        before["dismissed"], after["dismissed"] = sorted(state.dismissed), sorted(dismissed)
    return Edit(label=label, changes=changes, fields_before=before, fields_after=after)


def apply(state: TrackSet, edit: Edit, *, forward: bool = True) -> None:
    """Apply an edit (forward: redo) or its inverse (undo) to `state` in place."""
    for ch in edit.changes:
        meta = ch.after if forward else ch.before
        if meta is None:
            state.tracks.pop(ch.id, None)
            continue
        current = state.tracks.get(ch.id)
        segs = list(current.segmentations) if current is not None else [None] * state.num_frames
        for t, before, after in ch.frames:
            segs[t] = after if forward else before
        state.tracks[ch.id] = Track.from_meta(meta, segs)
    fields = edit.fields_after if forward else edit.fields_before
    if "vocabulary" in fields:
        state.vocabulary = vocabulary_from_dict(fields["vocabulary"])
    if "dismissed" in fields:
        state.dismissed = set(fields["dismissed"])


class History:
    """Undo and redo stacks. The undo stack is bounded: the oldest edits stop
    being undoable, their effect stays."""

    def __init__(self, undo=None, redo=None, limit: int = 200):
        self.undo_stack: list[Edit] = list(undo or [])
        self.redo_stack: list[Edit] = list(redo or [])
        self.limit = limit

    def push(self, edit: Edit) -> None:
        self.undo_stack.append(edit)
        del self.undo_stack[:-self.limit]
        self.redo_stack.clear()

    def to_json(self) -> dict:
        return {"undo": [e.to_json() for e in self.undo_stack], "redo": [e.to_json() for e in self.redo_stack]}

    @classmethod
    def from_json(cls, obj) -> "History":
        return cls(undo=[Edit.from_json(e) for e in obj.get("undo", [])],
                   redo=[Edit.from_json(e) for e in obj.get("redo", [])])
