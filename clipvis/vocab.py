"""Vocabularies: the classes a user asks for, each with its synonyms.

A class is a list of synonyms. The engine encodes every synonym and takes the
max over them (as the official code does for names such as "dog, puppy").

Two spellings of synonyms exist:
- the official category lists write them comma-separated inside one name
  ("dog, puppy"); `Vocabulary.from_names` splits them the official way;
- users write `bike|bicycle`; `parse_vocabulary_text` splits on `|`, and
  separates classes by commas or new lines.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path


class VocabularyError(ValueError):
    """A vocabulary that cannot be used (empty, malformed, unknown name)."""


DEFAULT_SUPERCATEGORY = "object"  # a category's supercategory where the vocabulary names none


@dataclass(frozen=True)
class VocabClass:
    """One class. `id` is the category id written to YTVIS files."""

    id: int
    name: str
    synonyms: tuple[str, ...]
    partition: int | None = None  # LV-VIS: 0/1 base, 2/3 novel
    supercategory: str | None = None  # COCO's, where the list has one

    def __post_init__(self):
        if not self.synonyms or any(not s.strip() for s in self.synonyms):
            raise VocabularyError(f"class {self.name!r} has an empty synonym")

    @property
    def spelled(self) -> str:
        """The class as a user types it: synonyms joined by `|`."""
        return "|".join(self.synonyms) if self.synonyms != (self.name,) else self.name

    def to_json(self) -> dict:
        item = {"id": self.id, "name": self.name, "synonyms": list(self.synonyms)}
        if self.partition is not None:
            item["partition"] = self.partition
        if self.supercategory is not None:
            item["supercategory"] = self.supercategory
        return item

    def category_json(self) -> dict:
        """The YTVIS `categories` entry: id, name, supercategory (+ partition for LV-VIS)."""
        out = {"id": self.id, "name": self.name, "supercategory": self.supercategory or DEFAULT_SUPERCATEGORY}
        if self.partition is not None:
            out["partition"] = self.partition
        return out


def same_class_key(text: str) -> str:
    """How two spellings are compared for near duplicates: case-folded, runs of
    whitespace as one space ("Traffic  Light" == "traffic light")."""
    return " ".join(text.casefold().split())


@dataclass(frozen=True)
class Vocabulary:
    classes: tuple[VocabClass, ...]
    name: str = "custom"
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        if not self.classes:
            raise VocabularyError("the vocabulary is empty: give at least one class")
        ids = [c.id for c in self.classes]
        if len(set(ids)) != len(ids):
            raise VocabularyError("the vocabulary has duplicate class ids")
        _refuse_near_duplicates(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def synonyms(self) -> list[tuple[str, ...]]:
        return [c.synonyms for c in self.classes]

    @property
    def ids(self) -> list[int]:
        return [c.id for c in self.classes]

    def index_of_id(self, category_id: int) -> int:
        for i, c in enumerate(self.classes):
            if c.id == category_id:
                return i
        raise KeyError(category_id)

    def find(self, spelling: str) -> VocabClass | None:
        """The class that `spelling` names (its name or a synonym, compared as
        near duplicates are), or None."""
        key = same_class_key(spelling)
        for c in self.classes:
            if key in {same_class_key(s) for s in (c.name, *c.synonyms)}:
                return c
        return None

    def with_class(self, spelling: str) -> tuple["Vocabulary", int]:
        """(this vocabulary with the class `spelling` added, its id).

        `spelling` is typed text for one class (`bike|bicycle`). A class the
        vocabulary already has (its first name matches a name or synonym) is
        not added again: the vocabulary comes back unchanged, with that class's
        id. A new class gets the next free id and goes last; one that shares a
        synonym with a different class is refused (VocabularyError naming both).
        """
        syns = tuple(dict.fromkeys(s.strip() for s in str(spelling).split("|") if s.strip()))
        if not syns:
            raise VocabularyError("type a class name")
        known = self.find(syns[0])
        if known is not None:
            return self, known.id
        new = VocabClass(id=max(self.ids) + 1, name=syns[0], synonyms=syns)
        return replace(self, classes=self.classes + (new,), meta=dict(self.meta)), new.id

    def to_json(self) -> dict:
        """Our file format (FORMAT_TAG): `Vocabulary.from_json` and `load_vocabulary` read it back unchanged."""
        return {"format": FORMAT_TAG, "name": self.name, "classes": [c.to_json() for c in self.classes]}

    @classmethod
    def from_json(cls, obj, *, name: str = "custom", source: str = "vocabulary") -> "Vocabulary":
        """Our format, a list of names, or a list of {id, name[, partition, supercategory]}
        (the benchmarks' category lists); VocabularyError says what is wrong."""
        return _from_json(obj, name, source)

    def categories(self, used=None) -> list:
        """YTVIS `categories` (clipvis.formats.Category): every class, or only those
        whose ids are in `used`, with the vocabulary's own ids (never renumbered)."""
        from clipvis.formats.ytvis import Category

        return [Category.from_json(c.category_json()) for c in self.classes if used is None or c.id in used]

    @classmethod
    def from_names(cls, names, *, name: str = "custom", ids=None) -> "Vocabulary":
        """Official convention: a comma inside a name separates synonyms.

        Ids run 1..N unless given (the official results count category_id from 1
        in the vocabulary's order).
        """
        names = list(names)
        ids = list(ids) if ids is not None else list(range(1, len(names) + 1))
        classes = tuple(
            VocabClass(id=i, name=n, synonyms=tuple(split_official_synonyms(n)))
            for i, n in zip(ids, names)
        )
        return cls(classes=classes, name=name)

    @classmethod
    def from_synonym_lists(cls, lists, *, name: str = "custom") -> "Vocabulary":
        classes = tuple(
            VocabClass(id=i + 1, name=syns[0], synonyms=tuple(syns)) for i, syns in enumerate(lists)
        )
        return cls(classes=classes, name=name)


def _refuse_near_duplicates(classes) -> None:
    """Two classes that share a spelling would each get every instance of it,
    written twice under two ids: refuse, naming both."""
    owner: dict[str, VocabClass] = {}
    for c in classes:
        for spelling in dict.fromkeys((c.name, *c.synonyms)):
            key = same_class_key(spelling)
            other = owner.setdefault(key, c)
            if other is not c:
                raise VocabularyError(
                    f"{other.spelled!r} and {c.spelled!r} are the same class: both say {spelling!r} once case "
                    "and spaces are ignored. Keep one, or make them one class with synonyms, e.g. 'bike|bicycle'")


def split_official_synonyms(name: str) -> list[str]:
    # The official code does name.replace(", ", ",").split(","), verbatim otherwise.
    return name.replace(", ", ",").split(",")


def parse_vocabulary_text(text: str) -> Vocabulary:
    """Parse what a user types: classes separated by commas or new lines,
    synonyms of one class joined by `|` ("person, bike|bicycle"). A class typed
    twice (also as "person, PERSON") is refused, naming both."""
    lists = []
    for line in text.replace(",", "\n").splitlines():
        syns = list(dict.fromkeys(s.strip() for s in line.split("|") if s.strip()))
        if syns:
            lists.append(syns)
    if not lists:
        raise VocabularyError("the vocabulary is empty: type at least one class, e.g. 'person, dog'")
    return Vocabulary.from_synonym_lists(lists)


# ---------------------------------------------------------------------------
# Named vocabularies and vocabulary files (the data layer).
#
# The shipped lists are package data, clipvis/vocabularies/<name>.json, in one
# format (FORMAT_TAG, described in clipvis/vocabularies/README.md), read with
# importlib.resources so that an installed copy (wheel, zip) finds them too.

FORMAT_TAG = "clipvis-vocabulary/1"
# Spellings users type for the shipped lists -> file stem.
_ALIASES = {"ytvis_2019": "ytvis2019", "ytvis19": "ytvis2019", "ytvis_2021": "ytvis2021",
            "ytvis21": "ytvis2021", "lv-vis": "lvvis", "lv_vis": "lvvis"}


def _shipped():
    return resources.files("clipvis") / "vocabularies"


def list_vocabularies() -> list[str]:
    """Names accepted by load_vocabulary: burst, coco, lvvis, ovis, ytvis2019, ytvis2021."""
    return sorted(p.name[: -len(".json")] for p in _shipped().iterdir() if p.name.endswith(".json"))


def load_vocabulary(spec) -> Vocabulary:
    """What a user names, in this order:
    - a shipped name: `lvvis`, `ytvis2019`, `ytvis2021`, `ovis`, `burst`, `coco`;
    - a file: .json (our format {"classes": [...]}, a list of names, or a list
      of {id, name[, partition, supercategory]} objects like the benchmarks'
      category lists), or text, one class per line, synonyms joined by `|` (a
      comma inside a line also separates synonyms, the official convention;
      blank lines and `#` comments are skipped);
    - otherwise typed text, as `parse_vocabulary_text`: "person, bike|bicycle".
    A string that looks like a path (has / or ends in .json/.txt) but names no
    file is an error rather than a class called "notes.txt".
    """
    if isinstance(spec, Vocabulary):
        return spec
    text = str(spec).strip()
    key = _ALIASES.get(text.lower(), text.lower())
    if key in list_vocabularies():
        content = (_shipped() / f"{key}.json").read_text(encoding="utf-8")
        return _from_json(json.loads(content), key, f"shipped vocabulary {key}")
    path = Path(text)
    if text and path.is_file():
        return _from_file(path)
    if "/" in text or "\\" in text or path.suffix.lower() in (".json", ".txt"):
        raise VocabularyError(f"{text!r}: no such vocabulary file (shipped vocabularies: "
                              f"{', '.join(list_vocabularies())})")
    vocab = parse_vocabulary_text(text)
    return _with_meta(vocab, "typed text")


def _from_file(path: Path) -> Vocabulary:
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise VocabularyError(f"{path}: not a UTF-8 text file") from None
    if path.suffix.lower() == ".json":
        try:
            obj = json.loads(content)
        except json.JSONDecodeError as e:
            raise VocabularyError(f"{path}: not valid JSON ({e})") from None
        return _from_json(obj, path.stem, str(path))
    return parse_vocabulary_file(content, name=path.stem, source=str(path))


def _split_synonyms(text: str) -> list[str]:
    """`bike|bicycle` and the official `dog, puppy` both separate synonyms."""
    out = []
    for part in text.split("|"):
        for syn in split_official_synonyms(part):
            syn = syn.strip()
            if syn and syn not in out:
                out.append(syn)
    return out


def parse_vocabulary_file(text: str, *, name: str = "custom", source: str = "text") -> Vocabulary:
    """Text file form: one class per line (see load_vocabulary)."""
    lists, lines_of = [], {}
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        syns = _split_synonyms(line)
        if not syns:
            continue
        key = tuple(syns)
        if key in lines_of:
            raise VocabularyError(f"{source}: line {n} repeats the class of line {lines_of[key]} ({line!r})")
        lines_of[key] = n
        lists.append(syns)
    if not lists:
        raise VocabularyError(f"{source}: the vocabulary is empty: write one class per line, e.g. 'person' "
                              "or 'bike|bicycle'")
    try:
        return _with_meta(Vocabulary.from_synonym_lists(lists, name=name), source)
    except VocabularyError as err:
        raise VocabularyError(f"{source}: {err}") from None


def _optional(e: dict, key: str, kind, source: str):
    value = e.get(key)
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise VocabularyError(f"{source}: class {e['name']!r} has a {key} of the wrong type: {value!r}")
    return value


def _from_json(obj, name: str, source: str) -> Vocabulary:
    if isinstance(obj, dict):
        entries, name = obj.get("classes"), obj.get("name", name)
        if not isinstance(entries, list):
            raise VocabularyError(f"{source}: a vocabulary object needs a 'classes' list")
    elif isinstance(obj, list):
        entries = obj
    else:
        raise VocabularyError(f"{source}: expected a list of class names or an object with 'classes'")
    if not entries:
        raise VocabularyError(f"{source}: the vocabulary is empty")
    classes = []
    for i, e in enumerate(entries):
        if isinstance(e, str):
            e = {"name": e}
        if not isinstance(e, dict) or not isinstance(e.get("name"), str) or not e["name"].strip():
            raise VocabularyError(f"{source}: class #{i} must be a name or an object with a 'name', got {e!r}")
        # Benchmark lists carry LVIS `synonyms` (BURST) that the official code
        # does not prompt with; only our own format's `synonyms` are used.
        syns = e.get("synonyms") if isinstance(obj, dict) and "synonyms" in e else _split_synonyms(e["name"])
        if not isinstance(syns, list) or not syns or not all(isinstance(s, str) and s.strip() for s in syns):
            raise VocabularyError(f"{source}: class {e['name']!r} needs a non-empty list of synonyms")
        cid = e.get("id", i + 1)
        if not isinstance(cid, int) or isinstance(cid, bool):
            raise VocabularyError(f"{source}: class {e['name']!r} has a non-integer id {cid!r}")
        classes.append(VocabClass(id=cid, name=e["name"], synonyms=tuple(syns),
                                  partition=_optional(e, "partition", int, source),
                                  supercategory=_optional(e, "supercategory", str, source)))
    try:
        return _with_meta(Vocabulary(classes=tuple(classes), name=name), source)
    except VocabularyError as err:
        raise VocabularyError(f"{source}: {err}") from None


def _with_meta(vocab: Vocabulary, source: str) -> Vocabulary:
    vocab.meta["source"] = source
    return vocab
