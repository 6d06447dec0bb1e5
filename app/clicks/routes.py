"""The click preview: a prompt on the frame shown -> the object's mask there.

    POST   /clipvis/v/{token}/prompt/prepare   {click, frame, target}: encode the frame shown ahead of a click
    POST   /clipvis/v/{token}/prompt           {click, frame, points: [[x, y, 1|0], ...], box: [x0, y0, x1, y1]
                                                | null, target: track id | null} in display pixels
                                                -> the mask (PNG, white on transparent, display size);
                                                headers X-Frame, X-Object-Score, X-Ms
    DELETE /clipvis/v/{token}/prompt/{click}   forget the click (Esc)

A plain route beside the viewer's (app/viewer/routes.py), so a click never
waits in Gradio's queue behind anything: the preview is one SAM 2 decoder
pass, plus the frame's image encoder on a frame clicked for the first time,
unless the viewer asked for `prepare` when the frame came on screen in click
mode (the encoder then runs while the user aims; SAM 2 caches one frame).
Each prompt sends every point of the frame so far, and replaces the frame's
earlier prompt: more clicks refine the mask. Refusals answer 4xx/503 with
{"message"} in the user's words; the SAM model missing says where to put it.
"""
from __future__ import annotations

import json
import re
import time

from fastapi import Body, HTTPException, Response
from fastapi.routing import APIRoute

from app.clicks.service import Click, DisplayFrames
from app.messages import for_user
from app.viewer.document import snapshot
from app.viewer.overlays import mask_png
from app.viewer.routes import NO_STORE, PREFIX

MAX_CLICK_ID = 64
LOCK_SECONDS = 20  # a click waits this long for its frame's encoding (prepare); a Track holds the click longer


class PromptRefused(ValueError):
    """A prompt that gives no preview; `status` is the HTTP status it answers with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def parse_prompt(body, display_wh: tuple[int, int]):
    """The request's points and box as a clipvis.prompt.Prompt (display pixels)."""
    from clipvis.prompt import Prompt, PromptError

    if not isinstance(body, dict):
        raise PromptRefused("a prompt is a JSON object")
    try:
        points = [(float(p[0]), float(p[1])) for p in body.get("points") or []]
        labels = [1 if int(p[2]) else 0 for p in body.get("points") or []]
        box = body.get("box")
        box = None if box is None else tuple(float(v) for v in box)
    except (TypeError, ValueError, IndexError):
        raise PromptRefused("a point is [x, y, 1 or 0] and a box [x0, y0, x1, y1], in pixels") from None
    try:
        return Prompt(points=tuple(points), labels=tuple(labels), box=box).checked(display_wh[::-1])
    except PromptError as e:
        raise PromptRefused(str(e)) from None


def click_for(prompts, token: str, session, click_id, target) -> Click:
    """The click this request continues: its own, else the one that made the
    selected track (a correction), else a new one."""
    if not isinstance(click_id, str) or not 0 < len(click_id) <= MAX_CLICK_ID:
        raise PromptRefused("the click has no id (reload the page)")
    click = prompts.clicks.get(token, click_id)
    if click is None and target is not None:
        earlier = prompts.clicks.for_track(token, target)
        if earlier is not None and target in session.state.tracks:
            click = Click(id=click_id, prompt=earlier.prompt, display_wh=earlier.display_wh, track=earlier.track,
                          points=earlier.points, lock=earlier.lock)
    if click is None:
        from clipvis.prompt import SamModelUnavailable
        try:
            tracker = prompts.sam.tracker()
        except SamModelUnavailable as e:
            # The cache's path is the server's business (its log has the whole message); the user reads where.
            text = re.sub(r"the Hugging Face cache at \S+?(?=[,.]?\s)", "the server's Hugging Face cache (the "
                          "server's log names the folder)", str(e))
            raise PromptRefused(f"Click to track needs the SAM 2 model, which is not available. {text}", 503) from None
        geo = snapshot(session).geo
        click = Click(id=click_id, prompt=tracker.session(DisplayFrames(session)), display_wh=geo.display_wh)
    return prompts.clicks.put(token, click)


def preview(prompts, token: str, session, body) -> tuple:
    """(the display-size mask, the TrackStep) for a prompt request."""
    from clipvis.prompt import PromptError

    body = body if isinstance(body, dict) else {}
    frame = _frame_of(body, session)
    target = body.get("target")
    target = int(target) if isinstance(target, int) and not isinstance(target, bool) else None
    click = click_for(prompts, token, session, body.get("click"), target)
    prompt = parse_prompt(body, click.display_wh)
    if not click.lock.acquire(timeout=LOCK_SECONDS):
        raise PromptRefused("this object is being tracked: wait for Track to finish (or cancel it)", 409)
    try:
        step = click.prompt.prompt(frame, prompt)
    except PromptError as e:
        raise PromptRefused(str(e)) from None
    finally:
        click.lock.release()
    click.frame = frame
    click.points += 1
    return step.mask, step


def prepare(prompts, token: str, session, body) -> bool:
    """Encode the frame shown for the click to come; False if the click is busy."""
    body = body if isinstance(body, dict) else {}
    frame = _frame_of(body, session)
    target = body.get("target")
    target = int(target) if isinstance(target, int) and not isinstance(target, bool) else None
    click = click_for(prompts, token, session, body.get("click"), target)
    if not click.lock.acquire(blocking=False):
        return False
    try:
        click.prompt.prepare(frame)
    finally:
        click.lock.release()
    return True


def _frame_of(body: dict, session) -> int:
    try:
        frame = int(body.get("frame"))
    except (TypeError, ValueError):
        raise PromptRefused("the prompt names no frame") from None
    if not 0 <= frame < session.meta.num_frames:
        raise PromptRefused(f"there is no frame {frame}")
    return frame


def prompt_routes(registry, prompts) -> list[APIRoute]:
    def refused(message: str, status: int) -> Response:
        body = json.dumps({"message": for_user(message)}).encode()
        return Response(body, status_code=status, media_type="application/json", headers=NO_STORE)

    def session_of(token: str):
        session = registry.session(token)
        if session is None:
            raise HTTPException(410, "this session is not open on the server (reload the page)")
        return session

    def prompt(token: str, body: dict = Body(...)):
        session = session_of(token)
        t0 = time.perf_counter()
        try:
            mask, step = preview(prompts, token, session, body)
        except PromptRefused as e:
            return refused(str(e), e.status)
        headers = {**NO_STORE, "X-Frame": str(step.frame), "X-Object-Score": f"{step.score:.3f}",
                   "X-Ms": f"{(time.perf_counter() - t0) * 1000:.0f}"}
        return Response(mask_png(mask), media_type="image/png", headers=headers)

    def prepare_frame(token: str, body: dict = Body(...)):
        session = session_of(token)
        t0 = time.perf_counter()
        try:
            done = prepare(prompts, token, session, body)
        except PromptRefused as e:
            return refused(str(e), e.status)
        return Response(status_code=204, headers={**NO_STORE, "X-Ms": f"{(time.perf_counter() - t0) * 1000:.0f}",
                                                   "X-Prepared": "1" if done else "0"})

    def forget(token: str, click: str):
        session_of(token)
        prompts.clicks.drop(token, click)
        return Response(status_code=204, headers=NO_STORE)

    return [
        APIRoute(PREFIX + "/{token}/prompt/prepare", prepare_frame, methods=["POST"], include_in_schema=False),
        APIRoute(PREFIX + "/{token}/prompt", prompt, methods=["POST"], include_in_schema=False),
        APIRoute(PREFIX + "/{token}/prompt/{click}", forget, methods=["DELETE"], include_in_schema=False),
    ]
