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

from dataclasses import dataclass, field


class VocabularyError(ValueError):
    """A vocabulary that cannot be used (empty, malformed, unknown name)."""


@dataclass(frozen=True)
class VocabClass:
    """One class. `id` is the category id written to YTVIS files."""

    id: int
    name: str
    synonyms: tuple[str, ...]
    partition: int | None = None  # LV-VIS: 0/1 base, 2/3 novel

    def __post_init__(self):
        if not self.synonyms or any(not s.strip() for s in self.synonyms):
            raise VocabularyError(f"class {self.name!r} has an empty synonym")


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


def split_official_synonyms(name: str) -> list[str]:
    # The official code does name.replace(", ", ",").split(","), verbatim otherwise.
    return name.replace(", ", ",").split(",")


def parse_vocabulary_text(text: str) -> Vocabulary:
    """Parse what a user types: classes separated by commas or new lines,
    synonyms of one class joined by `|` ("person, bike|bicycle")."""
    lists = []
    for line in text.replace(",", "\n").splitlines():
        syns = [s.strip() for s in line.split("|") if s.strip()]
        if syns and syns not in lists:
            lists.append(syns)
    if not lists:
        raise VocabularyError("the vocabulary is empty: type at least one class, e.g. 'person, dog'")
    return Vocabulary.from_synonym_lists(lists)


# ---------------------------------------------------------------------------
# Named vocabularies and vocabulary files (the data layer).
#
# The shipped lists live in assets/vocabularies/<name>.json, in one format
# (FORMAT_TAG, described in assets/vocabularies/README.md). They are found
# relative to this package, never in ../shared, so an installed copy works.

import json  # noqa: E402
from pathlib import Path  # noqa: E402

FORMAT_TAG = "clipvis-vocabulary/1"
VOCABULARY_DIR = Path(__file__).resolve().parents[1] / "assets" / "vocabularies"
# Spellings users type for the shipped lists -> file stem.
_ALIASES = {"ytvis_2019": "ytvis2019", "ytvis19": "ytvis2019", "ytvis_2021": "ytvis2021",
            "ytvis21": "ytvis2021", "lv-vis": "lvvis", "lv_vis": "lvvis"}


def list_vocabularies() -> list[str]:
    """Names accepted by load_vocabulary: lvvis, ytvis2019, ytvis2021, ovis, burst, coco."""
    return sorted(p.stem for p in VOCABULARY_DIR.glob("*.json"))


def load_vocabulary(spec) -> Vocabulary:
    """What a user names, in this order:
    - a shipped name: `lvvis`, `ytvis2019`, `ytvis2021`, `ovis`, `burst`, `coco`;
    - a file: .json (our format {"classes": [...]}, a list of names, or a list
      of {id, name[, partition]} objects like the benchmarks' category lists),
      or text, one class per line, synonyms joined by `|` (a comma inside a
      line also separates synonyms, the official convention; blank lines and
      `#` comments are skipped);
    - otherwise typed text, as `parse_vocabulary_text`: "person, bike|bicycle".
    A string that looks like a path (has / or ends in .json/.txt) but names no
    file is an error rather than a class called "notes.txt".
    """
    if isinstance(spec, Vocabulary):
        return spec
    text = str(spec).strip()
    key = _ALIASES.get(text.lower(), text.lower())
    named = VOCABULARY_DIR / f"{key}.json"
    if key and "/" not in key and "\\" not in key and named.is_file():
        return _from_json(json.loads(named.read_text(encoding="utf-8")), key, str(named))
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
    return _with_meta(Vocabulary.from_synonym_lists(lists, name=name), source)


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
        classes.append(VocabClass(id=cid, name=e["name"], synonyms=tuple(syns), partition=e.get("partition")))
    try:
        return _with_meta(Vocabulary(classes=tuple(classes), name=name), source)
    except VocabularyError as err:
        raise VocabularyError(f"{source}: {err}") from None


def _with_meta(vocab: Vocabulary, source: str) -> Vocabulary:
    vocab.meta["source"] = source
    return vocab


def vocabulary_to_json(vocab: Vocabulary) -> dict:
    """Our file format; `load_vocabulary` reads it back unchanged."""
    classes = []
    for c in vocab.classes:
        item = {"id": c.id, "name": c.name, "synonyms": list(c.synonyms)}
        if c.partition is not None:
            item["partition"] = c.partition
        classes.append(item)
    return {"format": FORMAT_TAG, "name": vocab.name, "classes": classes}


def vocabulary_categories(vocab: Vocabulary) -> list[dict]:
    """YTVIS `categories` for a dataset file: id, name (+ partition for LV-VIS)."""
    return [{"id": c.id, "name": c.name, **({} if c.partition is None else {"partition": c.partition})}
            for c in vocab.classes]
