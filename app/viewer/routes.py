"""HTTP routes the browser viewer fetches frames and overlays from, on Gradio's own server.

    GET /clipvis/v/{token}/frame/{t}              the display JPEG of frame t
    GET /clipvis/v/{token}/overlay/{t}            the shown instances of frame t (PNG; 204 if none);
                                                  header X-Boxes: [[id, x, y, w, h], ...] for the labels
    GET /clipvis/v/{token}/mask/{track}/{t}       one instance's mask on frame t (PNG; 204 if absent or deleted)
    GET /clipvis/v/{token}/tracks                 the track list and timeline (JSON)
    GET /clipvis/v/{token}/pick/{t}?x=&y=         the instance on top at a display pixel (JSON)
    GET /clipvis/v/{token}/rev                    the state the session is at (JSON): a tab polls it to
                                                  follow edits made in another tab

They are plain FastAPI routes handed to `launch(app_kwargs={"routes": ...})`,
so they live on the one server `python app.py` starts (also on a Hugging
Face Space) and never pass through Gradio's event queue, which is what lets
the browser prefetch ahead and play at the clip's frame rate.

Every answer says which state it shows (headers X-Rev and X-Key): the
browser adopts a newer one, so an edit made in another tab shows up here too.
Frames never change, so they are cached by the browser; everything else is
cached here, by the snapshot key, and not by the browser. A token that is
not (or no longer) open answers 410 Gone.
"""
from __future__ import annotations

import json

from fastapi import HTTPException, Response
from fastapi.routing import APIRoute

from app.viewer.document import frame_masks, snapshot, track_mask, track_rows
from app.viewer.overlays import display_mask, mask_png, pick, render_overlay

PREFIX = "/clipvis/v"
NO_STORE = {"Cache-Control": "no-store"}


def viewer_routes(registry) -> list[APIRoute]:
    def session_of(token: str):
        session = registry.session(token)
        if session is None:
            raise HTTPException(410, "this session is not open on the server (reload the page)")
        return session

    def frame_index(snap, t: int) -> int:
        if not 0 <= t < snap.num_frames:
            raise HTTPException(404, f"there is no frame {t}")
        return t

    def state_headers(snap) -> dict:
        return {**NO_STORE, "X-Rev": str(snap.rev), "X-Key": snap.key}

    def frame(token: str, t: int):
        session = session_of(token)
        if not 0 <= t < session.meta.num_frames:
            raise HTTPException(404, f"there is no frame {t}")
        try:
            data = session.frames.path(t).read_bytes()
        except OSError:
            raise HTTPException(404, f"frame {t} is not on the server") from None
        # A session's display frames never change: the browser may keep them.
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})

    def overlay(token: str, t: int):
        snap = snapshot(session_of(token))
        t = frame_index(snap, t)

        def make():
            png, boxes = render_overlay(frame_masks(snap, snap.shown, t), snap.geo)
            return png, json.dumps(boxes, separators=(",", ":"))

        png, boxes = registry.cache.get_or_make((token, "overlay", snap.key, t), make,
                                                size_of=lambda v: len(v[0] or b"") + len(v[1]))
        headers = {**state_headers(snap), "X-Boxes": boxes}
        if png is None:
            return Response(status_code=204, headers=headers)
        return Response(png, media_type="image/png", headers=headers)

    def mask(token: str, track: int, t: int):
        snap = snapshot(session_of(token))
        t = frame_index(snap, t)
        tr = snap.track(track)

        def make():  # a deleted track has no mask, like a track absent from the frame
            m = None if tr is None else track_mask(snap, tr, t)
            return b"" if m is None or not m.any() else mask_png(display_mask(m, snap.geo))

        png = registry.cache.get_or_make((token, "mask", snap.key, track, t), make)
        if not png:
            return Response(status_code=204, headers=state_headers(snap))
        return Response(png, media_type="image/png", headers=state_headers(snap))

    def tracks(token: str):
        snap = snapshot(session_of(token))
        body = registry.cache.get_or_make((token, "tracks", snap.key),
                                          lambda: json.dumps(track_rows(snap), separators=(",", ":")).encode())
        return Response(body, media_type="application/json", headers=state_headers(snap))

    def pick_at(token: str, t: int, x: float, y: float, sel: int | None = None):
        """The selected instance counts even when hidden or under the threshold: it is drawn."""
        snap = snapshot(session_of(token))
        t = frame_index(snap, t)
        candidates = snap.shown + [tr for tr in snap.tracks if tr.id == sel and not snap.is_shown(tr)]
        body = json.dumps({"track": pick(frame_masks(snap, candidates, t), x, y, snap.geo), "rev": snap.rev,
                           "key": snap.key})
        return Response(body.encode(), media_type="application/json", headers=state_headers(snap))

    def rev(token: str):
        snap = snapshot(session_of(token))
        body = json.dumps({"rev": snap.rev, "key": snap.key}).encode()
        return Response(body, media_type="application/json", headers=state_headers(snap))

    get = dict(methods=["GET"], include_in_schema=False)
    return [
        APIRoute(PREFIX + "/{token}/frame/{t}", frame, **get),
        APIRoute(PREFIX + "/{token}/overlay/{t}", overlay, **get),
        APIRoute(PREFIX + "/{token}/mask/{track}/{t}", mask, **get),
        APIRoute(PREFIX + "/{token}/tracks", tracks, **get),
        APIRoute(PREFIX + "/{token}/pick/{t}", pick_at, **get),
        APIRoute(PREFIX + "/{token}/rev", rev, **get),
    ]
