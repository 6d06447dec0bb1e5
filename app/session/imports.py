"""Importing YTVIS annotations (dataset or results form) onto the loaded video.

The JSON must describe the same frames the session shows: same count (after
stride and frame limit) and same size. Anything else is refused with a
message saying what differs, before any track changes.

Ids: a dataset this session exported keeps its ids (they name the same
objects); anything else gets new ids, never used before in the session.
"""
from __future__ import annotations

from collections import Counter

import numpy as np

from clipvis.formats import Video, YTVISDataset, YTVISError, results_from_json, rle_area
from clipvis.formats.rle import to_compressed
from clipvis.vocab import VocabClass, Vocabulary

from app.session.operations import Proposal, renumbered, replace_all
from app.session.store import SessionMeta
from app.session.tracks import Track, TrackSet


def import_annotations(state: TrackSet, meta: SessionMeta, obj, source: str = "the JSON") -> Proposal:
    if isinstance(obj, dict):
        return _import_dataset(state, meta, YTVISDataset.from_json(obj, source=source), source)
    if isinstance(obj, list):
        return _import_results(state, obj, source)
    raise YTVISError(f"{source}: expected a YTVIS dataset (an object) or results (a list)")


def _pick_video(ds: YTVISDataset, meta: SessionMeta, source: str) -> Video:
    if len(ds.videos) == 1:
        return ds.videos[0]
    stem = meta.original_name.rsplit(".", 1)[0]
    named = [v for v in ds.videos if v.extra.get("name") == stem or
             (v.file_names and v.file_names[0].split("/")[0] in (stem, meta.original_name))]
    if len(named) == 1:
        return named[0]
    raise YTVISError(f"{source} holds {len(ds.videos)} videos and none is named {stem!r}; "
                     "import a file with this video's annotations only")


def _check_fits(v: Video, state: TrackSet, meta: SessionMeta, source: str):
    if (v.length, v.height, v.width) != (state.num_frames, state.height, state.width):
        raise YTVISError(
            f"{source}: video {v.id} has {v.length} frames of {v.width}x{v.height}, the loaded video "
            f"{state.num_frames} frames of {state.width}x{state.height} (stride {meta.stride}). "
            "Load the video with the stride and frame limit the annotations were made with.")


def _refs(segmentations, proposal: Proposal, state: TrackSet, source: str) -> np.ndarray:
    """Per-frame masks -> references to new masks; empty masks count as absent
    (the official writer stores an empty mask, not null, where an instance is absent)."""
    refs = np.zeros(state.num_frames, np.int64)
    for t, seg in enumerate(segmentations):
        if seg is None or rle_area(seg) == 0:
            continue
        rle = to_compressed(seg)
        if [int(v) for v in rle["size"]] != [state.height, state.width]:
            raise YTVISError(f"{source}: a mask on frame {t} is {rle['size'][1]}x{rle['size'][0]}, "
                             f"the video {state.width}x{state.height}")
        refs[t] = proposal.add_mask(rle["counts"].encode("ascii"))
    return refs


def _import_dataset(state: TrackSet, meta: SessionMeta, ds: YTVISDataset, source: str) -> Proposal:
    video = _pick_video(ds, meta, source)
    _check_fits(video, state, meta, source)
    # Keep the synonyms of classes the session already knows by name.
    known = {c.name.lower(): c.synonyms for c in state.vocabulary.classes}
    vocab = Vocabulary(classes=tuple(VocabClass(id=c.id, name=c.name, synonyms=known.get(c.name.lower(), (c.name,)),
                                                partition=c.partition, supercategory=_text_or_none(c.extra.get("supercategory")))
                               for c in ds.categories), name="imported")
    ours = ds.info.get("studio_session") == meta.id
    p = Proposal({}, "")
    tracks = []
    for a in ds.annotations_of(video.id):
        fields = a.extra.get("studio") or {"score": 1.0 if a.score is None else a.score, "origin": "imported"}
        fields = {**fields, "id": a.id, "category_id": a.category_id}
        if not ours:  # query slots and CLIP vectors mean something only in the session that wrote them
            fields.update(query=None, origin="imported", vector=None)
        refs = _refs(a.segmentations, p, state, source)
        if refs.any():
            tracks.append(Track.from_meta(fields, refs))
    if not ours:
        tracks = renumbered(tracks, state.free_id)
    out = replace_all(state, tracks, vocab, f"Import {len(tracks)} tracks (dataset form)", masks=p.masks)
    out.notes = [f"imported {len(tracks)} tracks of video {video.id} and {len(vocab)} categories"]
    return out


def _import_results(state: TrackSet, obj: list, source: str) -> Proposal:
    ids = Counter(r.get("video_id") for r in obj if isinstance(r, dict))
    if len(ids) > 1:
        raise YTVISError(f"{source} holds results of videos {sorted(ids, key=str)}; import one video's results")
    vid = next(iter(ids), 1)
    video = Video(id=vid if isinstance(vid, int) else 1, width=state.width, height=state.height,
                  file_names=[f"{t:05d}.jpg" for t in range(state.num_frames)])
    anns = results_from_json(obj, videos=[video], source=source)
    vocab, notes = state.vocabulary, []
    missing = sorted({a.category_id for a in anns} - set(vocab.ids))
    if missing:
        vocab = Vocabulary(classes=vocab.classes + tuple(
            VocabClass(id=c, name=f"class {c}", synonyms=(f"class {c}",)) for c in missing), name=vocab.name)
        notes.append(f"category ids {missing} are not in the vocabulary: added as 'class <id>', relabel them")
    p = Proposal({}, "")
    tracks = []
    for a in anns:
        refs = _refs(a.segmentations, p, state, source)
        if refs.any():
            tracks.append(Track(id=state.free_id + len(tracks), category_id=a.category_id, score=float(a.score),
                                refs=refs, origin="imported"))
    out = replace_all(state, tracks, vocab, f"Import {len(tracks)} tracks (results form)", masks=p.masks)
    out.notes = [f"imported {len(tracks)} tracks"] + notes
    return out


def _text_or_none(value):
    """A category's supercategory as the vocabulary keeps it: text, or none (not a number or a list)."""
    return value if isinstance(value, str) and value.strip() else None
