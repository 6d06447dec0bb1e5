"""The editable annotation: tracks over the video's frames, and the vocabulary.

A track's masks are *references*, one int64 per frame:

    0           absent on this frame
    > 0         a row of the session's `masks` table (an RLE, never changed once written)
    < 0         the mask of query q on this frame in the stored analysis of run r
                (`lazy_ref`): decoded when shown or exported, never copied
    >= PENDING  a mask an edit is about to add (numbered when it is committed)

So an edit copies references, never masks: merging, splitting or deleting a
track of 4,550 frames moves 36 KB of integers, and copying a mask forward
repeats one reference. A Track is immutable (its array is read-only); edits
build new Track objects, and what a view derives from the frames (first, last,
count, the runs the timeline draws) is computed once per Track object.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from clipvis.vocab import Vocabulary

ORIGINS = ("model", "promoted", "imported", "split", "clicked")
ABSENT = 0
PENDING = 1 << 62
QUERY_SLOTS = 1 << 20  # query numbers per run in a lazy reference


def lazy_ref(run: int, query: int) -> int:
    """The reference to query `query`'s masks in the stored analysis of run `run`."""
    if not (0 <= query < QUERY_SLOTS and run >= 1):
        raise ValueError(f"no lazy reference for run {run}, query {query}")
    return -(run * QUERY_SLOTS + query) - 1


def lazy_parts(ref: int) -> tuple[int, int]:
    """(run, query) of a lazy reference."""
    n = -int(ref) - 1
    return n // QUERY_SLOTS, n % QUERY_SLOTS


def frozen_refs(refs, num_frames: int | None = None) -> np.ndarray:
    out = np.array(refs, dtype=np.int64)  # a copy: nobody else holds it
    if out.ndim != 1 or (num_frames is not None and len(out) != num_frames):
        raise ValueError(f"a track needs one reference per frame ({num_frames}), got shape {out.shape}")
    out.flags.writeable = False
    return out


@dataclass(frozen=True, eq=False)
class Track:
    """One instance over the video.

    refs: (T,) int64 mask references (see the module doc).
    query: the engine's query slot this track came from (re-query follows it).
    by_hand: the user chose the label; re-query never changes it.
    top_classes: the model's best classes, ((category_id, score), ...).
    vector: a clicked track's pooled CLIP vector (a row of the `vectors`
      table, or PENDING + i until committed); re-label classifies it again.
    """

    id: int
    category_id: int
    score: float
    refs: np.ndarray
    query: int | None = None
    origin: str = "model"
    by_hand: bool = False
    hidden: bool = False
    top_classes: tuple = ()
    vector: int | None = None

    def __post_init__(self):
        if self.origin not in ORIGINS:
            raise ValueError(f"unknown track origin {self.origin!r}")
        if not (isinstance(self.refs, np.ndarray) and self.refs.dtype == np.int64 and not self.refs.flags.writeable):
            object.__setattr__(self, "refs", frozen_refs(self.refs))

    def __eq__(self, other) -> bool:
        return (isinstance(other, Track) and self.meta() == other.meta()
                and (self.refs is other.refs or np.array_equal(self.refs, other.refs)))

    __hash__ = None

    def with_(self, **changes) -> "Track":
        if "refs" in changes:
            changes["refs"] = frozen_refs(changes["refs"], len(self.refs))
        return replace(self, **changes)

    # ---- derived from the frames, once per Track object -------------------------
    @cached_property
    def frames(self) -> np.ndarray:
        """Frame numbers where the track has a mask, ascending."""
        return np.flatnonzero(self.refs)

    @property
    def num_present(self) -> int:
        return len(self.frames)

    @property
    def first_frame(self) -> int | None:
        return int(self.frames[0]) if len(self.frames) else None

    @property
    def last_frame(self) -> int | None:
        return int(self.frames[-1]) if len(self.frames) else None

    @cached_property
    def runs(self) -> list[tuple[int, int]]:
        """[(first, last), ...] of each stretch of consecutive frames."""
        f = self.frames
        if not len(f):
            return []
        breaks = np.flatnonzero(np.diff(f) != 1)
        starts = np.concatenate([[f[0]], f[breaks + 1]])
        ends = np.concatenate([f[breaks], [f[-1]]])
        return [(int(a), int(b)) for a, b in zip(starts, ends)]

    def present(self, t: int) -> bool:
        return bool(self.refs[t])

    def meta(self) -> dict:
        """Everything but the masks, as JSON."""
        return {"id": self.id, "category_id": self.category_id, "score": float(self.score), "query": self.query,
                "origin": self.origin, "by_hand": self.by_hand, "hidden": self.hidden,
                "top_classes": [[int(c), float(s)] for c, s in self.top_classes],
                # Only clicked tracks have one: the other tracks' stored metadata stays as it was.
                **({} if self.vector is None else {"vector": int(self.vector)})}

    @classmethod
    def from_meta(cls, meta: dict, refs) -> "Track":
        return cls(id=int(meta["id"]), category_id=int(meta["category_id"]), score=float(meta["score"]),
                   refs=refs, query=meta.get("query"), origin=meta.get("origin", "model"),
                   by_hand=bool(meta.get("by_hand", False)), hidden=bool(meta.get("hidden", False)),
                   top_classes=tuple((int(c), float(s)) for c, s in meta.get("top_classes", ())),
                   vector=None if meta.get("vector") is None else int(meta["vector"]))


@dataclass
class TrackSet:
    """All tracks of one video (by id, in display order) and the vocabulary."""

    num_frames: int
    height: int
    width: int
    vocabulary: Vocabulary
    tracks: dict = field(default_factory=dict)  # id -> Track
    # Query slots whose model track the user deleted or merged away: re-query must not bring them back.
    dismissed: set = field(default_factory=set)
    # The next id a new track gets. Only grows: an id names one object for the session's life,
    # so the same id in two exports is the same object.
    next_id: int = 1

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError("a video needs at least one frame")

    @property
    def free_id(self) -> int:
        return max(self.next_id, max(self.tracks, default=0) + 1)

    def get(self, track_id) -> Track:
        try:
            return self.tracks[int(track_id)]
        except (KeyError, TypeError, ValueError):
            raise KeyError(f"there is no instance #{track_id}") from None

    def class_name(self, category_id: int) -> str:
        for c in self.vocabulary.classes:
            if c.id == category_id:
                return c.name
        return f"class {category_id}"

    def visible(self, threshold: float = 0.0) -> list[Track]:
        """Tracks shown: not hidden, score at least the threshold, best first."""
        shown = [t for t in self.tracks.values() if not t.hidden and t.score >= threshold]
        return sorted(shown, key=lambda t: (-t.score, t.id))

    def absent(self) -> np.ndarray:
        return np.zeros(self.num_frames, np.int64)


# ---- vocabulary as stored in a session: the library's own JSON format ----
# (It keeps synonyms, LV-VIS partitions and supercategories, which a YTVIS category list lacks.)

def vocabulary_to_dict(vocab: Vocabulary) -> dict:
    return vocab.to_json()


def vocabulary_from_dict(obj: dict) -> Vocabulary:
    return Vocabulary.from_json(obj, source="the session's vocabulary")


def add_class(vocab: Vocabulary, name: str) -> tuple[Vocabulary, int]:
    """The vocabulary with a class called `name` (added at the end with a new
    id if missing) and that class's id. `a|b` gives synonyms; a class that
    shares a name with another is refused (VocabularyError, a ValueError, naming both)."""
    return vocab.with_class(name)
