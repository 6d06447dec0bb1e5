"""Handlers that use the model: run (with progress and cancel), re-query, promote."""
from __future__ import annotations

import time

import gradio as gr

from clipvis import CheckpointMismatch, UnknownCLIPModel, Vocabulary, WeightsUnavailable, parse_vocabulary_text
from clipvis.vocab import VocabularyError, list_vocabularies, load_vocabulary

from app.callbacks.files import USER_ERRORS, run_estimate
from app.callbacks.view import changed, folded_ask, tab
from app.messages import for_user, html_text, md, problem
from app.clicks.labels import classify_clicked, reclassifiable, relabel_clicked
from app.run_job import RunJob
from app.session import StaleEdit
from app.session.from_engine import vocabulary_for_requery

POLL_SECONDS = 0.4
MIN_INPUT, MAX_INPUT = 64, 1600  # model input short side, pixels
MODEL_ERRORS = USER_ERRORS + (WeightsUnavailable, CheckpointMismatch, UnknownCLIPModel, RuntimeError)


def build_vocabulary(text: str, standard: str | None) -> Vocabulary:
    """Typed classes (`person, bike|bicycle`), a standard vocabulary, or both
    (the typed classes are added after the standard ones)."""
    typed = parse_vocabulary_text(text) if (text or "").strip() else None
    if standard and standard not in list_vocabularies():
        # Only the shipped names: load_vocabulary would also read any file the server can see.
        raise VocabularyError(f"unknown standard vocabulary {standard!r} (known: {', '.join(list_vocabularies())})")
    std = load_vocabulary(standard) if standard else None
    if std is None and typed is None:
        raise VocabularyError("type the classes to look for (e.g. 'person, bike|bicycle') or pick a vocabulary")
    if std is None:
        return typed
    if typed is None:
        return std
    # A typed class the standard one has (by a name or synonym) is not added twice; one that
    # shares a synonym with a different class is refused, naming both (VocabularyError).
    vocab = std
    for c in typed.classes:
        vocab, _ = vocab.with_class("|".join(c.synonyms))
    return Vocabulary(classes=vocab.classes, name=f"{std.name}+typed")


def input_size(value) -> int:
    """The model input's short side, kept within what makes sense (a client may send anything)."""
    return min(max(int(value), MIN_INPUT), MAX_INPUT)


def run(studio, view, vocab_text, vocab_std, model_choice, custom_path, min_size):
    """Queue a run and stream its place in the queue, then its progress (a generator).
    The job is the document's (session.job: any tab sees its tracks once it
    ends, and any tab's Cancel stops it); this generator follows it for the tab
    that started it. The last update holds the new tracks, or says why there are none."""
    if view is None or view.session is None:
        yield problem("load a video first, then type the classes and press Run")
        return
    session = view.session
    if session.job is not None and session.job.running:
        yield problem("a run is already waiting or working for this video (Cancel stops it)")
        return
    try:
        vocabulary = build_vocabulary(vocab_text, vocab_std)
        spec = studio.service.spec(model_choice, custom_path)
        size = input_size(min_size or session.meta.min_size)
    except USER_ERRORS + (TypeError,) as e:
        yield problem(str(e))
        return
    examples = getattr(studio, "examples", None)
    job = RunJob(session=session, service=studio.service, spec=spec, vocabulary=vocabulary, min_size=size,
                 vocab_text=vocab_text or "", vocab_std=vocab_std or "", queue=studio.runs,
                 after=examples.keep if examples is not None else None)
    session.job = job.start()
    yield from follow(job)
    if job.error:
        return
    yield {"run_status": job.status_html(), "ask_acc": folded_ask(session),
           "estimate": run_estimate(studio, session.meta.num_frames, spec, size),
           **changed(studio, view, md(job.message) + " Change the classes and press **Re-label** to ask again "
                     "without re-running.", select=None)}


def estimate(studio, view, model_choice, custom_path, min_size) -> dict:
    """The time a run would take with the model and input size picked (shown under Run)."""
    if view is None or view.session is None:
        return {"estimate": ""}
    try:
        spec = studio.service.spec(model_choice, custom_path)
        size = input_size(min_size or view.session.meta.min_size)
    except USER_ERRORS + (TypeError,):
        return {"estimate": ""}
    return {"estimate": run_estimate(studio, view.session.meta.num_frames, spec, size)}


def follow(job):
    """A queued job's place, then its progress, for the tab that started it; if it
    failed or was cancelled, a last update that says so (the caller answers success).

    No "view" in these updates: the tab keeps editing while the job works, and each
    edit's answer updates the tab's view; putting back the one from before the job
    would undo its selection and revision (then Undo is refused as stale)."""
    while job.running:
        yield {"run_status": job.status_html()}
        job.done.wait(POLL_SECONDS)
    if job.error:
        text = md(for_user(job.error))
        yield {"run_status": job.status_html(), "message": text if job.cancelled else f"⚠️ {text}"}


def cancel(view) -> dict:
    """Take the run out of the queue, or stop it between frames."""
    job = None if view is None or view.session is None else view.session.job
    if job is None or not job.running:
        return {"message": "No run is waiting or working for this video."}
    return {"message": job.stop()}


def _result_for_current_vocabulary(studio, session):
    """The stored analysis classified with the session's vocabulary (cached)."""
    stored = session.stored_analysis
    if stored is None:
        raise ValueError("this needs the model's analysis of this video: press Run first")
    result = session.result
    if result is None or result.analysis is not stored.analysis:
        result = session.result = studio.service.classify(session.model, stored.analysis, session.state.vocabulary)
    return result


def requery(studio, view, value, vocab_text, vocab_std) -> dict:
    """New vocabulary, same video pass: re-label from the stored CLIP features."""
    if view is None or view.session is None:
        return problem("load a video first")
    session = view.session
    if session.job is not None and session.job.running:
        return problem("wait for the run to finish (or cancel it) before re-labelling")
    try:
        asked = build_vocabulary(vocab_text, vocab_std)
    except USER_ERRORS as e:
        return problem(str(e))
    stored = session.stored_analysis
    if stored is None and not reclassifiable(session.state):
        # Imported annotations or no run yet (or a session from an earlier version): nothing to classify.
        return problem("re-labelling needs the model's analysis of this video: press Run once first")
    vocab, kept = vocabulary_for_requery(asked, session.state)
    started = time.perf_counter()
    meta = {"vocab_text": vocab_text or "", "vocab_std": vocab_std or ""}
    try:
        # Clicked tracks and the model's are classified against the asked classes alone.
        clicked = classify_clicked(studio.service, session, asked)  # clicked tracks, from their stored vectors
        if stored is None:
            with session.lock:
                proposal = relabel_clicked(session.state, vocab, clicked)
                edit, notes = session.commit(proposal, meta_changes=meta), proposal.notes
        else:
            result = studio.service.classify(session.model, stored.analysis, asked)
            edit, notes = session.requery(result, vocabulary=vocab, meta_changes=meta, clicked=clicked)
    except MODEL_ERRORS + (KeyError,) as e:
        return problem(f"re-query failed: {e}")
    took = time.perf_counter() - started
    kept_txt = (f" Hand-set label(s) kept, not used to classify the model's tracks: {', '.join(kept)}."
                if kept else "")
    msg = (f"⚡ Re-labelled in {took * 1000:.0f} ms from the stored CLIP features, without re-running the video: "
           f"{'; '.join(notes)}.{kept_txt} Undo reverts it.")
    ask = folded_ask(session)  # its one-line header says what was asked now; left open, as the user had it
    return {**changed(studio, tab(view, value), md(msg)), "run_status": f"<div class='run-status ok'>{html_text(msg)}</div>",
            "ask_acc": gr.update(label=ask["label"])}


def candidates(studio, view) -> dict:
    """The query slots the model kept but that are no instance: objects it may have dropped."""
    if view is None or view.session is None or view.session.stored_analysis is None:
        return problem("recovering dropped objects needs the model's analysis: run the model first")
    session = view.session
    try:
        _result_for_current_vocabulary(studio, session)
        rows = session.candidates()
    except MODEL_ERRORS as e:
        return problem(str(e))
    names = {c.id: c.name for c in session.state.vocabulary.classes}  # choice labels are shown as text
    choices = [(f"query {c['query']} · objectness {c['objectness']:.2f} · best: {names.get(c['category_id'])} "
                f"{c['score']:.2f} · frames {c['frames'][0]}–{c['frames'][1]}", c["query"]) for c in rows]
    return {"candidates": gr.update(choices=choices, value=choices[0][1] if choices else None),
            "message": f"{len(choices)} low-score query track{'' if len(choices) == 1 else 's'}; pick one and press **Promote**." if choices
            else "Every query slot is already an instance."}


def promote(studio, view, value, query) -> dict:
    if view is None or view.session is None:
        return problem("load a video first")
    if query is None:
        return problem("pick a query track to promote (press ‘Show dropped objects’ first)")
    view = tab(view, value)
    session = view.session
    try:
        _result_for_current_vocabulary(studio, session)
        edit = session.promote(int(query), base_revision=view.revision)
    except MODEL_ERRORS + (StaleEdit,) as e:
        return problem(str(e))
    new_id = max(tid for tid in session.state.tracks if tid in edit.track_ids)
    return changed(studio, view, f"{md(edit.label)}. Undo reverts it.", select=new_id)
