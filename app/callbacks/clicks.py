"""Click to track: the Track handler (the preview is a route, app/clicks/routes.py).

The viewer's `propagate` event {click, replace} starts a TrackJob for the
click the tab has been prompting, and streams its progress like a run; Cancel
(the run's button) reaches it the same way. The last update holds the new
track, selected, with its top classes, or says why there is none.
"""
from __future__ import annotations

import gradio as gr

from app.callbacks.run import follow
from app.callbacks.view import changed, tab
from app.clicks.job import TrackJob
from app.messages import for_user, md, problem


def _track_id(value):
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def clip_model(studio, session, model_choice, custom_path) -> str | None:
    """The CLIP-VIS model that labels the track: the session's run's, else the one picked in Ask."""
    if studio.service is None:
        return None
    if session.model:
        return session.model
    try:
        return studio.service.spec(model_choice, custom_path)
    except ValueError:
        return None


def track(studio, view, value, model_choice, custom_path, evt: gr.EventData):
    """Propagate the tab's click through the video (a generator)."""
    if view is None or view.session is None:
        yield problem("load a video first")
        return
    data = getattr(evt, "_data", None) or {}
    view = tab(view, value)
    session = view.session
    if session.job is not None and session.job.running:
        yield problem("a run or a Track is already waiting or working for this video (Cancel stops it)")
        return
    token = studio.viewer.token(session)
    click = studio.prompts.clicks.get(token, data.get("click"))
    if click is None or click.frame is None:
        yield problem("click on the object first: press c (Click to track), then click on it in the frame")
        return
    replace = _track_id(data.get("replace"))
    if replace is not None and replace not in session.state.tracks:
        yield problem(f"#{replace} no longer exists: clear the click (Esc) and click again")
        return
    job = TrackJob(session=session, service=studio.service, spec=clip_model(studio, session, model_choice, custom_path),
                   vocabulary=session.state.vocabulary, min_size=0, queue=studio.runs, prompts=studio.prompts,
                   token=token, click=click, replace=replace, from_frame=click.frame, base_revision=view.revision)
    session.job = job.start()
    yield from follow(job)
    if job.error:
        return
    yield {"run_status": job.status_html(),
           **changed(studio, view, md(for_user(job.message)), select=job.track_id)}
