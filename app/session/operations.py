"""The editing operations, as pure functions of the current tracks.

Each returns a `Proposal`: the new versions of the tracks it touches (None
deletes one), a label for the history, any new vocabulary or dismissed query
set, and the masks it adds (RLE strings; the tracks point at them with
`PENDING + i` until the commit numbers them). The Session turns it into an
undoable Edit (edits.diff) and commits it. Bad arguments raise
ValueError/KeyError with a message meant for the user.

Each costs what it changes: references are copied with numpy, never masks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from clipvis.formats.rle import mask_to_rle
from clipvis.vocab import Vocabulary

from app.session.tracks import ABSENT, PENDING, Track, TrackSet, add_class


@dataclass
class Proposal:
    tracks: dict  # id -> Track | None
    label: str
    vocabulary: Vocabulary | None = None
    dismissed: set | None = None
    masks: list = field(default_factory=list)  # new RLE counts (bytes); refs PENDING + i point at them
    notes: list = field(default_factory=list)  # what the user should be told
    fields: dict = field(default_factory=dict)  # other document fields: {name: (before, after)}
    vectors: list = field(default_factory=list)  # new [(model, CLIP vector)]; Track.vector PENDING + i

    def add_mask(self, counts: bytes) -> int:
        """A reference to a new mask, numbered when the proposal is committed."""
        self.masks.append(bytes(counts))
        return PENDING + len(self.masks) - 1

    def add_vector(self, model: str, vector) -> int:
        """A reference to a new stored CLIP vector, numbered when the proposal is committed."""
        self.vectors.append((str(model), np.asarray(vector, np.float32)))
        return PENDING + len(self.vectors) - 1


def rle_counts(mask: np.ndarray) -> bytes:
    return mask_to_rle(mask)["counts"].encode("ascii")


def _frame(state: TrackSet, t) -> int:
    t = int(t)
    if not 0 <= t < state.num_frames:
        raise ValueError(f"frame {t} is outside the video (0..{state.num_frames - 1})")
    return t


def _dismiss(state: TrackSet, tracks) -> set:
    """A model track deleted or merged away dismisses its query slot: re-query never brings it back."""
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
    refs = track.refs.copy()
    refs[a:b + 1] = ABSENT
    if not refs.any():
        p = delete(state, track_id)
        p.label = f"Delete #{track.id} (frames {a}–{b} were all it had)"
        return p
    return Proposal({track.id: track.with_(refs=refs)}, f"Delete #{track.id} from frames {a}–{b}")


def set_hidden(state: TrackSet, track_id, hidden: bool) -> Proposal:
    track = state.get(track_id)
    return Proposal({track.id: track.with_(hidden=bool(hidden))}, f"{'Hide' if hidden else 'Show'} #{track.id}")


def merge(state: TrackSet, keep_id, other_id) -> Proposal:
    """One track from two (an identity switch): `keep` takes `other`'s frames
    where it has none; where both have a mask, keep's stays. `keep` keeps its
    own query slot and label; `other`'s query slot is dismissed, so a re-query
    never brings the merged-away track back."""
    keep, other = state.get(keep_id), state.get(other_id)
    if keep.id == other.id:
        raise ValueError("pick two different instances to merge")
    refs = np.where(keep.refs != ABSENT, keep.refs, other.refs)
    merged = keep.with_(refs=refs, score=max(keep.score, other.score))
    return Proposal({keep.id: merged, other.id: None}, f"Merge #{other.id} into #{keep.id}",
                    dismissed=_dismiss(state, [other]))


def split(state: TrackSet, track_id, frame) -> Proposal:
    """Frames from `frame` on become a new track with the same label (and query
    slot: re-query relabels both halves alike)."""
    track = state.get(track_id)
    t = _frame(state, frame)
    if not track.refs[:t].any() or not track.refs[t:].any():
        raise ValueError(f"#{track.id} has no frames on one side of frame {t}: nothing to split")
    new_id = state.free_id
    head, tail = track.refs.copy(), track.refs.copy()
    head[t:] = ABSENT
    tail[:t] = ABSENT
    return Proposal({track.id: track.with_(refs=head),
                     new_id: track.with_(id=new_id, refs=tail, origin="split")},
                    f"Split #{track.id} at frame {t} (new #{new_id})")


def set_mask(state: TrackSet, track_id, frame, mask) -> Proposal:
    """Replace one frame's mask (brush/eraser). An empty mask removes the frame."""
    track = state.get(track_id)
    t = _frame(state, frame)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != (state.height, state.width):
        raise ValueError(f"the mask is {mask.shape[1]}x{mask.shape[0]}, the video {state.width}x{state.height}")
    p = Proposal({}, f"Paint #{track.id} on frame {t}")
    refs = track.refs.copy()
    refs[t] = p.add_mask(rle_counts(mask)) if mask.any() else ABSENT
    p.tracks[track.id] = track.with_(refs=refs)
    return p


def copy_forward(state: TrackSet, track_id, frame, count) -> Proposal:
    """Copy the mask on `frame` onto the next `count` frames (overwriting):
    the same reference, so nothing is copied but integers."""
    track = state.get(track_id)
    t = _frame(state, frame)
    if track.refs[t] == ABSENT:
        raise ValueError(f"#{track.id} has no mask on frame {t} to copy")
    end = min(state.num_frames - 1, t + max(1, int(count)))
    if end == t:
        raise ValueError(f"frame {t} is the last frame: nothing to copy onto")
    refs = track.refs.copy()
    refs[t + 1:end + 1] = track.refs[t]
    return Proposal({track.id: track.with_(refs=refs)}, f"Copy #{track.id}'s mask to frames {t + 1}–{end}")


def promote(state: TrackSet, *, query: int, refs, category_id: int, score: float, top_classes=()) -> Proposal:
    """Make a new track of a low-score query slot the engine kept."""
    if any(t.query == query for t in state.tracks.values()):
        raise ValueError(f"query {query} is already an instance")
    refs = np.asarray(refs, np.int64)
    if not refs.any():
        raise ValueError(f"query {query} has no mask on any frame")
    new_id = state.free_id
    track = Track(id=new_id, category_id=category_id, score=score, refs=refs, query=query, origin="promoted",
                  top_classes=tuple(top_classes))
    return Proposal({new_id: track}, f"Promote query {query} to #{new_id} {state.class_name(category_id)}",
                    dismissed=state.dismissed - {query})


def replace_all(state: TrackSet, tracks: list[Track], vocabulary: Vocabulary, label: str,
                masks: list | None = None) -> Proposal:
    """A new run or an import: these tracks (ids as given) replace all others.
    masks: the new masks their PENDING references point at."""
    new = {t.id: None for t in state.tracks.values()}
    new.update({t.id: t for t in tracks})
    return Proposal(new, label, vocabulary=vocabulary, dismissed=set(), masks=list(masks or []))


def renumbered(tracks: list[Track], start: int) -> list[Track]:
    """The tracks with ids start, start + 1, ... in their order (new objects
    get ids never used in the session)."""
    return [t.with_(id=start + i) for i, t in enumerate(tracks)]


def clicked_track(state: TrackSet, masks: dict, *, start: int, replace=None, vector=None, top=(),
                  unlabelled_class: str = "object") -> Proposal:
    """The result of a click-to-track propagation as one edit.

    masks: {frame: RLE counts (bytes)} of the frames where the object was
    found; vector: (model, CLIP vector) pooled from them, or None; top: its
    top classes [(category_id, score)] in the session's vocabulary, best
    first. replace: None makes a new track over the masks' frames; a track id
    replaces that track's masks from `start` on and keeps its earlier frames
    (its label follows the new vector unless set by hand or from the model).
    Clicked tracks have score 1: a person said it is an object."""
    t = _frame(state, start)
    if not masks:
        raise ValueError("SAM 2 found the object on no frame: click on it again (or draw a box around it)")
    p = Proposal({}, "")
    vocab = state.vocabulary
    if replace is None:
        old, refs = None, state.absent()
    else:
        old = state.get(replace)
        refs = old.refs.copy()
        refs[t:] = ABSENT
    for f in sorted(masks):
        if replace is None or f >= t:
            refs[_frame(state, f)] = p.add_mask(masks[f])
    top = tuple((int(c), float(s)) for c, s in top)
    labelled = old is None or (old.query is None and not old.by_hand)
    fields = {}
    if labelled:
        fields["top_classes"] = top
        fields["vector"] = None if vector is None else p.add_vector(*vector)
        if top:
            fields["category_id"] = top[0][0]
        elif old is None:
            vocab, fields["category_id"] = add_class(vocab, unlabelled_class)
    if old is None:
        new_id = state.free_id
        track = Track(id=new_id, category_id=fields.pop("category_id"), score=1.0, refs=refs, origin="clicked",
                      **fields)
        name = next(c.name for c in vocab.classes if c.id == track.category_id)
        p.label = f"Click-track #{new_id} {name} (frames {track.first_frame}–{track.last_frame})"
    else:
        track = old.with_(refs=refs, **fields)
        p.label = f"Click-track #{old.id} again from frame {t}"
    p.tracks[track.id] = track
    p.vocabulary = vocab if vocab is not state.vocabulary else None
    return p
