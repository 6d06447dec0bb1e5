"""The editable annotation: tracks over the video's frames, and the vocabulary.

A Track is treated as immutable: edits build new Track objects (copying only
the per-frame list, whose RLE dicts are shared), so an edit's before- and
after-state can both be kept cheaply for undo.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from clipvis.vocab import VocabClass, Vocabulary

ORIGINS = ("model", "promoted", "imported", "split")


@dataclass(frozen=True)
class Track:
    """One instance over the video.

    segmentations: per frame a compressed RLE dict (str counts) or None (absent).
    query: the engine's query slot this track came from (re-query follows it).
    by_hand: the user chose the label; re-query never changes it.
    top_classes: the model's best classes, [(category_id, score), ...].
    """

    id: int
    category_id: int
    score: float
    segmentations: tuple
    query: int | None = None
    origin: str = "model"
    by_hand: bool = False
    hidden: bool = False
    top_classes: tuple = ()

    def __post_init__(self):
        if self.origin not in ORIGINS:
            raise ValueError(f"unknown track origin {self.origin!r}")

    def with_(self, **changes) -> "Track":
        if "segmentations" in changes:
            changes["segmentations"] = tuple(changes["segmentations"])
        return replace(self, **changes)

    @property
    def frames(self) -> list[int]:
        return [t for t, s in enumerate(self.segmentations) if s is not None]

    @property
    def first_frame(self) -> int | None:
        f = self.frames
        return f[0] if f else None

    @property
    def last_frame(self) -> int | None:
        f = self.frames
        return f[-1] if f else None

    def meta(self) -> dict:
        """Everything but the masks, as JSON."""
        return {"id": self.id, "category_id": self.category_id, "score": float(self.score), "query": self.query,
                "origin": self.origin, "by_hand": self.by_hand, "hidden": self.hidden,
                "top_classes": [[int(c), float(s)] for c, s in self.top_classes]}

    @classmethod
    def from_meta(cls, meta: dict, segmentations) -> "Track":
        return cls(id=int(meta["id"]), category_id=int(meta["category_id"]), score=float(meta["score"]),
                   segmentations=tuple(segmentations), query=meta.get("query"),
                   origin=meta.get("origin", "model"), by_hand=bool(meta.get("by_hand", False)),
                   hidden=bool(meta.get("hidden", False)),
                   top_classes=tuple((int(c), float(s)) for c, s in meta.get("top_classes", ())))


@dataclass
class TrackSet:
    """All tracks of one video (by id, in display order) and the vocabulary."""

    num_frames: int
    height: int
    width: int
    vocabulary: Vocabulary
    tracks: dict = field(default_factory=dict)  # id -> Track
    # Query slots whose model track the user deleted: re-query must not bring them back.
    dismissed: set = field(default_factory=set)

    def __post_init__(self):
        if self.num_frames < 1:
            raise ValueError("a video needs at least one frame")

    @property
    def next_id(self) -> int:
        return max(self.tracks, default=0) + 1

    def get(self, track_id: int) -> Track:
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


# ---- vocabulary as JSON (with synonyms, which a YTVIS category list lacks) ----

def vocabulary_to_dict(vocab: Vocabulary) -> dict:
    return {"name": vocab.name, "classes": [
        {"id": c.id, "name": c.name, "synonyms": list(c.synonyms),
         **({} if c.partition is None else {"partition": c.partition})} for c in vocab.classes]}


def vocabulary_from_dict(obj: dict) -> Vocabulary:
    classes = tuple(VocabClass(id=int(c["id"]), name=str(c["name"]), synonyms=tuple(c["synonyms"]),
                               partition=c.get("partition")) for c in obj["classes"])
    return Vocabulary(classes=classes, name=obj.get("name", "custom"))


def add_class(vocab: Vocabulary, name: str) -> tuple[Vocabulary, int]:
    """The vocabulary with a class called `name` (added at the end with a new
    id if missing) and that class's id. `a|b` gives synonyms."""
    syns = tuple(s.strip() for s in name.split("|") if s.strip())
    if not syns:
        raise ValueError("type a class name")
    for c in vocab.classes:
        if c.name.lower() == syns[0].lower():
            return vocab, c.id
    new_id = max(vocab.ids, default=0) + 1
    cls = VocabClass(id=new_id, name=syns[0], synonyms=syns)
    return Vocabulary(classes=vocab.classes + (cls,), name=vocab.name), new_id
