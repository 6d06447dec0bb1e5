"""Open-vocabulary labels for clicked tracks, through the library only
(clipvis.prompt: engine_clip, pool_track, classify_track).

A clicked track's CLIP vector is pooled once, when its Track finishes, with
the CLIP-VIS model of the session's run (or the one picked in Ask when there
was no run), and stored with the track (the `vectors` table, float32 bytes,
with the model's name). Re-label classifies the stored vector again with the
new classes, with the model it was pooled with: nothing is read from the video.
"""
from __future__ import annotations

import numpy as np

from app.session import operations
from app.session.tracks import add_class


def engine_clip_of(service, spec: str):
    """The CLIP-VIS engine's CLIP (clipvis.prompt.EngineCLIP) of a loaded model."""
    from clipvis.prompt import engine_clip
    return engine_clip(service.get(spec))


def pool_and_classify(service, spec: str, frames, masks: dict, vocabulary):
    """(vector (D,), top 5 [ClassScore]) of a track: masks {frame: full-size
    mask or COCO RLE}, frames at full size (a clipvis.video source)."""
    from clipvis.prompt import classify_track, pool_track
    clip = engine_clip_of(service, spec)
    vector = pool_track(clip, frames, masks)
    return vector.float().cpu().numpy(), classify_track(clip, vector, vocabulary)


def top_pairs(top) -> tuple:
    """ClassScores as a Track's top_classes ((category_id, score), ...)."""
    return tuple((int(c.category_id), float(c.score)) for c in top)


def relabelled(track, top):
    """A clicked track given its top classes; the best becomes its class, unless set by hand."""
    if track.by_hand or not top:
        return track.with_(top_classes=top_pairs(top)) if top else track
    return track.with_(category_id=int(top[0].category_id), top_classes=top_pairs(top))


def reclassifiable(state) -> list:
    """Clicked tracks whose label follows their stored vector (not set by hand)."""
    return [t for t in state.tracks.values() if t.vector is not None and not t.by_hand]


def classify_clicked(service, session, vocabulary) -> dict:
    """{track id: top 5 [ClassScore] in `vocabulary`} of the clicked tracks,
    from their stored vectors (one text classifier per model). A label set by
    hand stays; its top classes follow the new vocabulary."""
    clicked = [t for t in session.state.tracks.values() if t.vector is not None]
    if not clicked:
        return {}  # and clipvis.prompt (transformers) is not imported for nothing
    from clipvis.prompt import classify_track
    out, clips = {}, {}
    for track in clicked:
        try:
            model, vector = session.vector(track)
        except KeyError:  # re-imported after the edit that stored it was discarded: keeps its label
            continue
        if model not in clips:
            clips[model] = engine_clip_of(service, model)
        out[track.id] = classify_track(clips[model], np.asarray(vector), vocabulary)
    return out


def relabel_clicked(state, vocabulary, labels: dict) -> operations.Proposal:
    """Re-label without a run: the clicked tracks classified anew ({track id:
    top classes}), every other track (and a label set by hand) keeping its
    class under its id in the new vocabulary."""
    new, changed = {}, 0
    for track in state.tracks.values():
        top = labels.get(track.id)
        if top and not track.by_hand:
            new[track.id] = relabelled(track, top)
            changed += state.class_name(track.category_id) != _name(vocabulary, new[track.id].category_id)
        else:
            vocabulary, cid = add_class(vocabulary, state.class_name(track.category_id))
            new[track.id] = track.with_(category_id=cid, **({"top_classes": top_pairs(top)} if top else {}))
    names = vocabulary.names
    return operations.Proposal(new, f"Re-label clicked tracks: {', '.join(names[:6])}{' …' if len(names) > 6 else ''}",
                               vocabulary=vocabulary, notes=[f"{changed} clicked track(s) changed class",
                                                             f"{len(labels)} clicked track(s) re-classified"])


def _name(vocabulary, category_id) -> str:
    return next((c.name for c in vocabulary.classes if c.id == category_id), f"class {category_id}")
