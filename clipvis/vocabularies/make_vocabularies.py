"""One-off: turn the benchmark category lists into clipvis/vocabularies/<name>.json.

    python clipvis/vocabularies/make_vocabularies.py <folder of the benchmarks' category lists>

Run from the repository root. See README.md beside this file for the format.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from clipvis.atomic import write_text  # noqa: E402
from clipvis.vocab import FORMAT_TAG, split_official_synonyms  # noqa: E402

# our name -> (source file, what it is)
SOURCES = {
    "lvvis": ("lvvis.json", "LV-VIS (1,196 classes; partition 0/1 = base, 2/3 = novel)"),
    "ytvis2019": ("ytvis_2019.json", "YouTube-VIS 2019 (40 classes)"),
    "ytvis2021": ("ytvis_2021.json", "YouTube-VIS 2021 (40 classes)"),
    "ovis": ("ovis.json", "OVIS (25 classes)"),
    "burst": ("burst.json", "BURST (482 LVIS classes)"),
    "coco": ("coco.json", "COCO (80 classes, sparse ids 1..90)"),
}


# COCO's own supercategories (its instances files list one per category); the
# source list has names and ids only. The other benchmarks name none.
COCO_SUPERCATEGORIES = {
    "person": ["person"],
    "vehicle": ["bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat"],
    "outdoor": ["traffic light", "fire hydrant", "stop sign", "parking meter", "bench"],
    "animal": ["bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe"],
    "accessory": ["backpack", "umbrella", "handbag", "tie", "suitcase"],
    "sports": ["frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
               "skateboard", "surfboard", "tennis racket"],
    "kitchen": ["bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl"],
    "food": ["banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake"],
    "furniture": ["chair", "couch", "potted plant", "bed", "dining table", "toilet"],
    "electronic": ["tv", "laptop", "mouse", "remote", "keyboard", "cell phone"],
    "appliance": ["microwave", "oven", "toaster", "sink", "refrigerator"],
    "indoor": ["book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"],
}
SUPERCATEGORIES = {"coco": {n: sup for sup, names in COCO_SUPERCATEGORIES.items() for n in names}}


def convert(entries: list, name: str, source: str) -> dict:
    classes = []
    supers = SUPERCATEGORIES.get(name)
    for e in entries:
        c = {"id": int(e["id"]), "name": e["name"], "synonyms": split_official_synonyms(e["name"])}
        if "partition" in e:
            c["partition"] = int(e["partition"])
        if supers is not None:
            c["supercategory"] = supers[e["name"]]  # KeyError: a class the table lacks
        if "synonyms" in e:  # BURST: LVIS synonyms, kept for reference only
            c["lvis_synonyms"] = list(e["synonyms"])
        classes.append(c)
    return {"format": FORMAT_TAG, "name": name, "source": source, "classes": classes}


def dumps(vocab: dict) -> str:
    # One class per line: small files that still diff line by line.
    head = {k: v for k, v in vocab.items() if k != "classes"}
    lines = ",\n".join("  " + json.dumps(c, ensure_ascii=False) for c in vocab["classes"])
    return json.dumps(head, ensure_ascii=False)[:-1] + ', "classes": [\n' + lines + "\n]}\n"


def main(src_dir: str) -> None:
    src = Path(src_dir)
    for name, (fname, what) in SOURCES.items():
        entries = json.loads((src / fname).read_text(encoding="utf-8"))
        out = Path(__file__).resolve().parent / f"{name}.json"
        write_text(out, dumps(convert(entries, name, what)))
        print(f"{out.name}: {len(entries)} classes")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "shared" / "vocab"))
