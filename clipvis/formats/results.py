"""YouTube-VIS results form, as the YTVIS and LV-VIS evaluation servers take it.

A JSON list of `{video_id, category_id, score, segmentations, bboxes}`, one
compressed RLE (and `[x, y, w, h]` box) or null per frame. `bboxes` is optional
to readers (the official `loadRes` computes missing boxes; converters such as
SAM 3's need them), and always written. The form has no ids and no sizes, so reading it needs
the videos it refers to (their sizes and lengths are what it is checked
against); entries get ids 1..N in file order, as the official `loadRes` does.
"""
from __future__ import annotations

from pathlib import Path

from clipvis.atomic import write_json
from clipvis.formats.validate import Where, YTVISError, check_result, load_json
from clipvis.formats.ytvis import Annotation, Category, Video, YTVISDataset


def _video_table(videos) -> dict:
    """Accept a dataset, a list of Video / raw dicts, or {id: Video} -> {id: raw dict}."""
    if isinstance(videos, YTVISDataset):
        videos = videos.videos
    if isinstance(videos, dict):
        videos = list(videos.values())
    return {v.id: v.to_json() for v in (Video.from_json(v) if isinstance(v, dict) else v for v in videos)}


def results_from_json(obj, *, videos, categories=None, source: str = "results") -> list[Annotation]:
    """Validate a results list; `categories` (ids or Category list), if given, must hold every category_id."""
    if not isinstance(obj, list):
        raise YTVISError(f"{source}: the results form is a JSON list of "
                         f"{{video_id, category_id, score, segmentations}}, got a {type(obj).__name__}")
    table = _video_table(videos)
    cats = None if categories is None else {getattr(c, "id", c): c for c in categories}
    where = Where(source)
    return [Annotation(**check_result(raw, i, table, cats, where)) for i, raw in enumerate(obj)]


def results_to_json(annotations, *, default_score: float | None = None) -> list[dict]:
    out = []
    for a in annotations:
        score = a.score if a.score is not None else default_score
        if score is None:
            raise YTVISError(f"annotation {a.id} (video {a.video_id}) has no score; "
                             "the results form needs one (pass default_score)")
        out.append({"video_id": a.video_id, "category_id": a.category_id, "score": float(score),
                    "segmentations": list(a.segmentations),
                    "bboxes": list(a.bboxes) if a.bboxes is not None else a.computed_bboxes()})
    return out


def write_results(path, annotations, *, default_score: float | None = None) -> Path:
    """Write tracks (a list of Annotation, or a YTVISDataset's) as a results file."""
    if isinstance(annotations, YTVISDataset):
        annotations = annotations.annotations
    return write_json(path, results_to_json(annotations, default_score=default_score))


def read_results(path, *, videos, categories=None) -> list[Annotation]:
    return results_from_json(load_json(path), videos=videos, categories=categories, source=str(path))


def results_to_dataset(annotations, *, videos, categories, info=None) -> YTVISDataset:
    """Results (with scores) -> dataset form, e.g. to correct pseudo-labels by hand.

    Annotation ids are renumbered 1..N in the given order; scores are kept.
    """
    videos = [Video.from_json(v) if isinstance(v, dict) else v for v in
              (videos.videos if isinstance(videos, YTVISDataset) else videos)]
    categories = [Category.from_json(c) if isinstance(c, dict) else c for c in categories]
    anns = [Annotation(id=i + 1, video_id=a.video_id, category_id=a.category_id,
                       segmentations=list(a.segmentations), score=a.score)
            for i, a in enumerate(annotations)]
    ds = YTVISDataset(videos=videos, categories=categories, annotations=anns, info=dict(info or {}))
    # Check the combination (lengths, sizes, category ids) the way a reader would.
    return YTVISDataset.from_json(ds.to_json(), source="results_to_dataset")


def dataset_to_results(dataset: YTVISDataset, *, default_score: float = 1.0) -> list[dict]:
    """Dataset form -> results list; annotations without a score get `default_score`."""
    return results_to_json(dataset.annotations, default_score=default_score)
