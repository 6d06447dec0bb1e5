"""Turning the engine's results into tracks, and re-query.

The engine may list one query slot several times with different classes (the
official top-k over query x class pairs, which suits AP). An annotation wants
one track per object, so each query keeps only its best-scored instance.

A run's tracks get their masks decoded and stored (the run's last stage).
Tracks made later from a stored analysis (found by re-query, or promoted) are
lazy references to its masks: making them costs no decoding, whatever the
video's length; they are decoded when shown or exported.

Re-query: a new vocabulary is classified from the stored analysis (no video
pass), then
- tracks whose label the user chose (or that were imported) keep it;
- model-made tracks follow their query slot's new best class and score;
- query slots that now make the engine's list and are not tracks yet, and
  were not deleted or merged away by the user, become new tracks.
Masks of existing tracks are never touched: they may carry the user's edits.
"""
from __future__ import annotations

import numpy as np

from clipvis import VideoResult, Vocabulary
from clipvis.vocab import VocabClass

from app.session.operations import Proposal, rle_counts
from app.session.tracks import Track, TrackSet, lazy_ref


def best_per_query(result: VideoResult) -> dict:
    """{query: its best Instance}, in the result's order (best first)."""
    best = {}
    for inst in result.instances:
        best.setdefault(inst.query, inst)
    return best


def top_classes(result: VideoResult, query: int, k: int = 5) -> tuple:
    """((category_id, score), ...) of a query slot's k best classes."""
    row = result.class_scores[query]
    order = np.argsort(-row, kind="stable")[:k]
    return tuple((result.vocabulary.classes[i].id, float(row[i])) for i in order)


def best_class(result: VideoResult, query: int) -> tuple[int, float]:
    return top_classes(result, query, 1)[0]


def decoded_tracks(result: VideoResult, proposal: Proposal, *, start_id: int, progress=None) -> list[Track]:
    """One track per query slot in the result (its best instance), best first,
    its masks decoded and added to `proposal` (one batched decode per frame)."""
    best = list(best_per_query(result).values())
    T = result.num_frames
    refs = {i.query: np.zeros(T, np.int64) for i in best}
    for t in range(T):
        wanted = [i.query for i in best if i.present[t]]
        if wanted:
            for q, m in zip(wanted, result.analysis.query_masks(t, wanted)):
                if m.any():
                    refs[q][t] = proposal.add_mask(rle_counts(m))
        if progress is not None:
            progress(t + 1, T)
    tracks = []
    for inst in best:
        if refs[inst.query].any():  # shown on no frame: nothing to annotate
            tracks.append(Track(id=start_id + len(tracks), category_id=inst.category_id, score=inst.score,
                                refs=refs[inst.query], query=inst.query, origin="model",
                                top_classes=top_classes(result, inst.query)))
    return tracks


def query_refs(run: int, query: int, frames: np.ndarray) -> np.ndarray:
    """(T,) lazy references to query `query`'s masks where `frames` is True."""
    return np.where(frames, lazy_ref(run, query), 0).astype(np.int64)


def lazy_tracks(result: VideoResult, *, run: int, nonempty: np.ndarray, start_id: int, skip_queries=()) -> list[Track]:
    """Like decoded_tracks, as lazy references into run `run`'s stored analysis;
    nonempty: (Q, T) whether each query's mask has a pixel on each frame."""
    skip = set(skip_queries)
    tracks = []
    for inst in best_per_query(result).values():
        if inst.query in skip:
            continue
        frames = np.asarray(inst.present, bool) & nonempty[inst.query]
        if frames.any():
            tracks.append(Track(id=start_id + len(tracks), category_id=inst.category_id, score=inst.score,
                                refs=query_refs(run, inst.query, frames), query=inst.query, origin="model",
                                top_classes=top_classes(result, inst.query)))
    return tracks


def vocabulary_for_requery(asked: Vocabulary, state: TrackSet) -> tuple[Vocabulary, list[str]]:
    """The asked vocabulary, plus the classes of hand-set labels it lacks (so
    no hand label is lost). Returns it and the names that were kept."""
    names = {c.name.lower() for c in asked.classes}
    kept, classes = [], list(asked.classes)
    for t in state.tracks.values():
        if keeps_label(t):
            name = state.class_name(t.category_id)
            if name.lower() not in names:
                names.add(name.lower())
                kept.append(name)
                old = next((c for c in state.vocabulary.classes if c.id == t.category_id), None)
                syns = old.synonyms if old is not None else (name,)
                classes.append(VocabClass(id=max(c.id for c in classes) + 1, name=name, synonyms=syns))
    return Vocabulary(classes=tuple(classes), name=asked.name), kept


def keeps_label(track) -> bool:
    """A label re-query leaves alone: set by hand, or of a track that is no
    query's and has no CLIP vector to classify again (imported)."""
    return track.by_hand or (track.query is None and track.vector is None)


def requery(state: TrackSet, result: VideoResult, *, run: int, nonempty: np.ndarray,
            vocabulary: Vocabulary | None = None, clicked: dict | None = None) -> Proposal:
    """Re-label from `result` (run `run`'s stored analysis classified with the asked vocabulary);
    clicked: {track id: the clicked track re-labelled from its vector}.

    `vocabulary` is the session's vocabulary afterwards: the asked classes (with their ids) plus
    those only hand labels keep (vocabulary_for_requery). Model tracks are classified against
    the asked classes alone, so a class the user typed for one track never pulls others in."""
    vocab = vocabulary or result.vocabulary
    by_name = {c.name.lower(): c.id for c in vocab.classes}
    best = best_per_query(result)
    new, relabelled, kept_hand = {}, 0, 0
    clicked = clicked or {}
    for t in state.tracks.values():
        if t.id in clicked:
            new[t.id] = clicked[t.id]
            if t.by_hand:  # its class, under its id in the new vocabulary
                new[t.id] = new[t.id].with_(category_id=by_name[state.class_name(t.category_id).lower()])
                kept_hand += 1
                continue
            relabelled += vocab.classes[vocab.index_of_id(clicked[t.id].category_id)].name != \
                state.class_name(t.category_id)
            continue
        if keeps_label(t):
            cid = by_name[state.class_name(t.category_id).lower()]
            new[t.id] = t.with_(category_id=cid)
            kept_hand += 1
            continue
        inst = best.get(t.query)
        cid, score = (inst.category_id, inst.score) if inst is not None else best_class(result, t.query)
        new[t.id] = t.with_(category_id=cid, score=score, top_classes=top_classes(result, t.query))
        relabelled += vocab.classes[vocab.index_of_id(cid)].name != state.class_name(t.category_id)
    taken = {t.query for t in state.tracks.values()} | state.dismissed
    added = lazy_tracks(result, run=run, nonempty=nonempty, start_id=state.free_id, skip_queries=taken)
    new.update({t.id: t for t in added})
    notes = [f"{relabelled} model track(s) changed class", f"{len(added)} new track(s) found",
             f"{kept_hand} hand-labelled or imported track(s) kept their label"]
    return Proposal(new, f"Re-query: {', '.join(vocab.names[:6])}{' …' if len(vocab) > 6 else ''}",
                    vocabulary=vocab, notes=notes)
