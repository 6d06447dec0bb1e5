"""The editing operations, as pure functions of the current tracks.

Each returns a `Proposal`: the new versions of the tracks it touches (None
deletes one), a label for the history, and any new vocabulary or dismissed
query set. The Session turns it into an undoable Edit (edits.diff) and saves.
Bad arguments raise ValueError/KeyError with a message meant for the user.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clipvis.formats.rle import mask_to_rle
from clipvis.vocab import Vocabulary

from app.session.tracks import Track, TrackSet, add_class


@dataclass
class Proposal:
    tracks: dict  # id -> Track | None
    label: str
    vocabulary: Vocabulary | None = None
    dismissed: set | None = None
    notes: list = field(default_factory=list)  # what the user should be told


def _frame(state: TrackSet, t) -> int:
    t = int(t)
    if not 0 <= t < state.num_frames:
        raise ValueError(f"frame {t} is outside the video (0..{state.num_frames - 1})")
    return t


def _dismiss(state: TrackSet, tracks) -> set:
    """Deleting a model track dismisses its query slot for later re-queries."""
    return state.dismissed | {t.query for t in tracks if t.query is not None}


def relabel(state: TrackSet, track_id, label) -> Proposal:
    """label: a category id of the vocabulary (int) or a typed class name
    (added to the vocabulary if new; `a|b` gives synonyms)."""
    track = state.get(track_id)
    vocab = state.vocabulary
    if isinstance(label, (int, np.integer)):
        if int(label) not in vocab.ids:
            raise ValueError(f"class id {label} is not in the vocabulary")
        cid = int(label)
    else:
        vocab, cid = add_class(vocab, str(label))
    old, new = state.class_name(track.category_id), _name(vocab, cid)
    return Proposal({track.id: track.with_(category_id=cid, by_hand=True)},
                    f"Relabel #{track.id} {old} → {new}", vocabulary=vocab)


def _name(vocab: Vocabulary, cid: int) -> str:
    return next(c.name for c in vocab.classes if c.id == cid)


def delete(state: TrackSet, track_id) -> Proposal:
    track = state.get(track_id)
    return Proposal({track.id: None}, f"Delete #{track.id} {state.class_name(track.category_id)}",
                    dismissed=_dismiss(state, [track]))


def delete_frames(state: TrackSet, track_id, start, end) -> Proposal:
    track = state.get(track_id)
    a, b = sorted((_frame(state, start), _frame(state, end)))
    segs = list(track.segmentations)
    segs[a:b + 1] = [None] * (b + 1 - a)
    if all(s is None for s in segs):
        p = delete(state, track_id)
        p.label = f"Delete #{track.id} (frames {a}–{b} were all it had)"
        return p
    return Proposal({track.id: track.with_(segmentations=segs)}, f"Delete #{track.id} from frames {a}–{b}")


def set_hidden(state: TrackSet, track_id, hidden: bool) -> Proposal:
    track = state.get(track_id)
    return Proposal({track.id: track.with_(hidden=bool(hidden))}, f"{'Hide' if hidden else 'Show'} #{track.id}")


def merge(state: TrackSet, keep_id, other_id) -> Proposal:
    """One track from two (an identity switch): `keep` takes `other`'s frames
    where it has none; where both have a mask, keep's stays."""
    keep, other = state.get(keep_id), state.get(other_id)
    if keep.id == other.id:
        raise ValueError("pick two different instances to merge")
    segs = [a if a is not None else b for a, b in zip(keep.segmentations, other.segmentations)]
    merged = keep.with_(segmentations=segs, score=max(keep.score, other.score))
    return Proposal({keep.id: merged, other.id: None}, f"Merge #{other.id} into #{keep.id}")


def split(state: TrackSet, track_id, frame) -> Proposal:
    """Frames from `frame` on become a new track with the same label."""
    track = state.get(track_id)
    t = _frame(state, frame)
    if not any(s is not None for s in track.segmentations[:t]) or not any(
            s is not None for s in track.segmentations[t:]):
        raise ValueError(f"#{track.id} has no frames on one side of frame {t}: nothing to split")
    new_id = state.next_id
    head = list(track.segmentations[:t]) + [None] * (state.num_frames - t)
    tail = [None] * t + list(track.segmentations[t:])
    return Proposal({track.id: track.with_(segmentations=head),
                     new_id: track.with_(id=new_id, segmentations=tail, origin="split")},
                    f"Split #{track.id} at frame {t} (new #{new_id})")


def set_mask(state: TrackSet, track_id, frame, mask) -> Proposal:
    """Replace one frame's mask (brush/eraser). An empty mask removes the frame."""
    track = state.get(track_id)
    t = _frame(state, frame)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (state.height, state.width):
        raise ValueError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the video {state.width}x{state.height}")
    segs = list(track.segmentations)
    segs[t] = mask_to_rle(mask) if mask.any() else None
    return Proposal({track.id: track.with_(segmentations=segs)}, f"Paint #{track.id} on frame {t}")


def copy_forward(state: TrackSet, track_id, frame, count) -> Proposal:
    """Copy the mask on `frame` onto the next `count` frames (overwriting)."""
    track = state.get(track_id)
    t = _frame(state, frame)
    seg = track.segmentations[t]
    if seg is None:
        raise ValueError(f"#{track.id} has no mask on frame {t} to copy")
    end = min(state.num_frames - 1, t + max(1, int(count)))
    segs = list(track.segmentations)
    segs[t + 1:end + 1] = [seg] * (end - t)
    if end == t:
        raise ValueError(f"frame {t} is the last frame: nothing to copy onto")
    return Proposal({track.id: track.with_(segmentations=segs)}, f"Copy #{track.id}'s mask to frames {t + 1}–{end}")


def promote(state: TrackSet, *, query: int, segmentations, category_id: int, score: float,
            top_classes=()) -> Proposal:
    """Make a new track of a low-score query slot the engine kept."""
    if any(t.query == query for t in state.tracks.values()):
        raise ValueError(f"query {query} is already an instance")
    if all(s is None for s in segmentations):
        raise ValueError(f"query {query} has no mask on any frame")
    new_id = state.next_id
    track = Track(id=new_id, category_id=category_id, score=score, segmentations=tuple(segmentations),
                  query=query, origin="promoted", top_classes=tuple(top_classes))
    return Proposal({new_id: track}, f"Promote query {query} to #{new_id} {state.class_name(category_id)}",
                    dismissed=state.dismissed - {query})


def replace_all(state: TrackSet, tracks: list[Track], vocabulary: Vocabulary, label: str) -> Proposal:
    """A new run or an import: these tracks (ids as given) replace all others."""
    new = {t.id: None for t in state.tracks.values()}
    new.update({t.id: t for t in tracks})
    return Proposal(new, label, vocabulary=vocabulary, dismissed=set())

