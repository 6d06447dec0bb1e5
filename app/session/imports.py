"""Importing YTVIS annotations (dataset or results form) onto the loaded video.

The JSON must describe the same frames the session shows: same count (after
stride and frame limit) and same size. Anything else is refused with a
message saying what differs, before any track changes.
"""
from __future__ import annotations

from collections import Counter

from clipvis.formats import Video, YTVISDataset, YTVISError, results_from_json, rle_area
from clipvis.vocab import VocabClass, Vocabulary

from app.session.operations import Proposal, replace_all
from app.session.store import SessionMeta, tracks_from_dataset
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
             (v.file_names and v.file_names[0].split("/")[0] == stem)]
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


def _import_dataset(state: TrackSet, meta: SessionMeta, ds: YTVISDataset, source: str) -> Proposal:
    video = _pick_video(ds, meta, source)
    _check_fits(video, state, meta, source)
    # Keep the synonyms of classes the session already knows by name.
    known = {c.name.lower(): c.synonyms for c in state.vocabulary.classes}
    vocab = Vocabulary(classes=tuple(VocabClass(id=c.id, name=c.name, synonyms=known.get(c.name.lower(), (c.name,)),
                                                partition=c.partition) for c in ds.categories), name="imported")
    tracks = list(tracks_from_dataset(YTVISDataset(videos=[video], categories=ds.categories,
                                                   annotations=ds.annotations_of(video.id))).values())
    if ds.info.get("studio_session") != meta.id:
        # Query slots mean something only for the analysis of the session that wrote them.
        tracks = [t.with_(query=None, origin="imported") for t in tracks]
    tracks = [t.with_(segmentations=_drop_empty(t.segmentations)) for t in tracks]
    tracks = [t for t in tracks if t.frames]
    p = replace_all(state, tracks, vocab, f"Import {len(tracks)} tracks (dataset form)")
    p.notes = [f"imported {len(tracks)} tracks of video {video.id} and {len(vocab)} categories"]
    return p


def _drop_empty(segmentations) -> list:
    # The official writer stores an empty mask, not null, where an instance is absent.
    return [None if s is None or rle_area(s) == 0 else s for s in segmentations]


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
    tracks = []
    for a in anns:
        segs = _drop_empty(a.segmentations)
        if any(s is not None for s in segs):
            tracks.append(Track(id=len(tracks) + 1, category_id=a.category_id, score=float(a.score),
                                segmentations=tuple(segs), origin="imported"))
    p = replace_all(state, tracks, vocab, f"Import {len(tracks)} tracks (results form)")
    p.notes = [f"imported {len(tracks)} tracks"] + notes
    return p
