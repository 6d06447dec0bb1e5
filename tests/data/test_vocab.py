"""Shipped vocabularies and vocabulary files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from clipvis.vocab import (
    DEFAULT_SUPERCATEGORY, Vocabulary, VocabularyError, list_vocabularies, load_vocabulary, parse_vocabulary_text,
)

SHARED_VOCAB = Path(__file__).resolve().parents[2] / ".." / "shared" / "vocab"
SHIPPED = {"lvvis": ("lvvis.json", 1196), "ytvis2019": ("ytvis_2019.json", 40),
           "ytvis2021": ("ytvis_2021.json", 40), "ovis": ("ovis.json", 25),
           "burst": ("burst.json", 482), "coco": ("coco.json", 80)}


def test_list():
    assert list_vocabularies() == sorted(SHIPPED)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_lists_keep_names_and_ids_verbatim(name):
    vocab = load_vocabulary(name)
    fname, count = SHIPPED[name]
    assert len(vocab) == count and vocab.name == name
    assert all(c.synonyms == (c.name,) for c in vocab.classes)  # no benchmark name has a comma
    assert vocab.meta["source"] == f"shipped vocabulary {name}"  # package data, never ../shared
    source = SHARED_VOCAB / fname
    if source.exists():
        original = json.loads(source.read_text())
        assert [(c.id, c.name) for c in vocab.classes] == [(e["id"], e["name"]) for e in original]


def test_lvvis_split_and_sparse_coco_ids():
    parts = [c.partition for c in load_vocabulary("lvvis").classes]
    assert sum(p in (0, 1) for p in parts) == 641 and sum(p in (2, 3) for p in parts) == 555
    coco = load_vocabulary("coco")
    assert coco.ids[0] == 1 and coco.ids[-1] == 90
    assert load_vocabulary("YTVIS_2019").names == load_vocabulary("ytvis2019").names


def test_text_file(tmp_path):
    p = tmp_path / "mine.txt"
    p.write_text("# my classes\nperson\n\nbike|bicycle\n  dog, puppy | hound \n")
    vocab = load_vocabulary(p)
    assert vocab.synonyms == [("person",), ("bike", "bicycle"), ("dog", "puppy", "hound")]
    assert vocab.ids == [1, 2, 3] and vocab.name == "mine"


@pytest.mark.parametrize("content", [
    ["person", "bike|bicycle"],
    [{"id": 4, "name": "person"}, {"id": 9, "name": "bike|bicycle", "partition": 2}],
    {"name": "x", "classes": [{"id": 4, "name": "person", "synonyms": ["person"]},
                              {"id": 9, "name": "bike", "synonyms": ["bike", "bicycle"], "partition": 2}]},
])
def test_json_forms(tmp_path, content):
    p = tmp_path / "v.json"
    p.write_text(json.dumps(content))
    vocab = load_vocabulary(p)
    assert vocab.synonyms == [("person",), ("bike", "bicycle")]


def test_our_format_round_trips(tmp_path):
    vocab = load_vocabulary("lvvis")
    p = tmp_path / "copy.json"
    p.write_text(json.dumps(vocab.to_json()))
    assert load_vocabulary(p).classes == vocab.classes
    assert Vocabulary.from_json(vocab.to_json()).classes == vocab.classes
    cats = vocab.categories()
    assert cats[0].to_json() == {"id": 1, "name": "accordion", "supercategory": DEFAULT_SUPERCATEGORY,
                                 "partition": 3}


def test_categories_carry_supercategories_from_the_list_else_the_default():
    coco = load_vocabulary("coco")
    by_name = {c.name: c.to_json() for c in coco.categories()}
    assert by_name["car"] == {"id": 3, "name": "car", "supercategory": "vehicle"}
    assert by_name["toothbrush"]["supercategory"] == "indoor" and by_name["person"]["supercategory"] == "person"
    assert len({c["supercategory"] for c in by_name.values()}) == 12  # COCO's twelve
    assert {c.extra["supercategory"] for c in load_vocabulary("ytvis2019").categories()} == {DEFAULT_SUPERCATEGORY}
    assert [c.id for c in coco.categories(used={90, 3, 999})] == [3, 90]  # vocabulary order, ids kept
    typed = Vocabulary.from_json([{"id": 7, "name": "rover", "supercategory": "vehicle"}])
    assert typed.categories()[0].to_json() == {"id": 7, "name": "rover", "supercategory": "vehicle"}


@pytest.mark.parametrize("typed, first, second", [
    ("person, PERSON", "person", "PERSON"),
    ("bike|bicycle, bicycle", "bike|bicycle", "bicycle"),
    ("traffic light, Traffic   Light", "traffic light", "Traffic   Light"),
    ("person, person", "person", "person"),
    ("dog, puppy|Dog", "dog", "puppy|Dog"),
])
def test_near_duplicate_classes_are_refused_naming_both(typed, first, second):
    with pytest.raises(VocabularyError) as err:
        load_vocabulary(typed)
    assert f"{first!r} and {second!r} are the same class" in str(err.value)


def test_near_duplicates_are_refused_in_files_and_objects_too(tmp_path):
    p = tmp_path / "mine.txt"
    p.write_text("car\nautomobile|Car\n")
    with pytest.raises(VocabularyError, match=r"mine.txt: 'car' and 'automobile\|Car' are the same class"):
        load_vocabulary(p)
    with pytest.raises(VocabularyError, match="are the same class"):
        Vocabulary.from_json([{"id": 1, "name": "Dog"}, {"id": 2, "name": "dog"}])
    assert load_vocabulary("bike|Bike, car").synonyms == [("bike", "Bike"), ("car",)]  # within one class: fine
    for name in list_vocabularies():  # the shipped lists have none
        load_vocabulary(name)


def test_with_class_adds_once_and_refuses_a_clash():
    vocab = load_vocabulary("person, bicycle")
    same, cid = vocab.with_class("  Bicycle ")
    assert same is vocab and cid == 2
    grown, cid = vocab.with_class("dog|puppy")
    assert cid == 3 and grown.synonyms[-1] == ("dog", "puppy") and vocab.names == ["person", "bicycle"]
    assert grown.with_class("PUPPY") == (grown, 3)
    with pytest.raises(VocabularyError, match="'bicycle' and 'bike\\|bicycle' are the same class"):
        vocab.with_class("bike|bicycle")
    with pytest.raises(VocabularyError, match="type a class name"):
        vocab.with_class(" | ")


def test_typed_text_still_works():
    assert load_vocabulary("person, bike|bicycle").synonyms == [("person",), ("bike", "bicycle")]
    assert parse_vocabulary_text("a, b").names == ["a", "b"]
    assert Vocabulary.from_names(["dog, puppy"]).synonyms == [("dog", "puppy")]


@pytest.mark.parametrize("content, suffix, message", [
    ("", ".txt", "the vocabulary is empty"),
    ("# only a comment\n\n", ".txt", "the vocabulary is empty"),
    ("dog\ncat\ndog\n", ".txt", "line 3 repeats the class of line 1"),
    ("[]", ".json", "the vocabulary is empty"),
    ("{nope", ".json", "not valid JSON"),
    ('{"classes": 3}', ".json", "needs a 'classes' list"),
    ('[{"id": 1}]', ".json", "class #0 must be a name"),
    ('[{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]', ".json", "duplicate class ids"),
])
def test_bad_files(tmp_path, content, suffix, message):
    p = tmp_path / f"v{suffix}"
    p.write_text(content)
    with pytest.raises(VocabularyError, match=message):
        load_vocabulary(p)


def test_missing_file_is_not_taken_for_a_class():
    with pytest.raises(VocabularyError, match="no such vocabulary file"):
        load_vocabulary("classes.txt")
