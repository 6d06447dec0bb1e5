"""The viewer's server side: overlay pixels, the HTTP routes, the value it
exchanges with the handlers, and the handlers that act on what it shows."""
from __future__ import annotations

import base64
import io
import json
import types

import cv2
import numpy as np
import pytest
from PIL import Image
from fastapi import FastAPI
from fastapi.testclient import TestClient

from clipvis.formats.rle import rle_to_mask
from tests.app.conftest import plain, snapshot, squares_masks, tab

from app.callbacks import edit, view
from app.session.operations import Proposal
from app.viewer.component import EMPTY, ViewInput, view_input, viewer_value
from app.viewer.document import frame_masks, track_mask
from app.viewer.document import snapshot as view_snapshot
from app.viewer.overlays import (FILL_ALPHA, OUTLINE_ALPHA, Geometry, display_mask, mask_png, pick, render_overlay,
                                 track_color)
from app.viewer.registry import ByteCache, ViewerRegistry
from app.viewer.routes import viewer_routes

DISPLAY = (640, 480)  # the 96x72 test video is shown enlarged to 640 wide


@pytest.fixture
def client(studio, tracked):
    app = FastAPI(routes=viewer_routes(studio.viewer))
    return TestClient(app), studio.viewer.token(tracked)


def event(**data):
    return types.SimpleNamespace(_data=data)


def shown(session, frame=0, selected=None, rev=None):
    """The viewer's value as the browser sends it with an edit."""
    return {**viewer_value(ViewerRegistry(), session), "frame": frame, "selected": selected,
            "rev": session.revision if rev is None else rev}


def at(session, **where):
    """A tab of `session`, and its viewer's value showing `where` (frame, selected)."""
    return tab(session), shown(session, **where)


# ---- overlay pixels ---------------------------------------------------------------------

def rgba(png: bytes) -> np.ndarray:
    """A PNG as the browser sees it: RGBA pixels (palette and transparency resolved)."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_overlay_colours_exactly_the_masks_and_puts_smaller_instances_on_top(tracked):
    red, green = squares_masks()
    big = np.zeros((72, 96), bool)
    big[5:70, 2:90] = True  # covers both squares
    geo = Geometry(full_hw=(72, 96), display_wh=DISPLAY)
    masks = frame_masks(view_snapshot(tracked), tracked.state.tracks.values(), 0) + [(3, big)]
    png, boxes = render_overlay(masks, geo)
    image = rgba(png)
    assert image.shape == (480, 640, 4)
    # Drawn largest first: the big mask under the two squares.
    assert [b[0] for b in boxes] == [3, 1, 2]
    up = cv2.resize(red[0].view(np.uint8), DISPLAY, interpolation=cv2.INTER_NEAREST).view(bool)
    inner = cv2.erode(up.view(np.uint8), np.ones((5, 5), np.uint8)).view(bool)
    assert (image[inner] == (*track_color(1), FILL_ALPHA)).all()
    ring = up & ~cv2.erode(up.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    assert (image[ring] == (*track_color(1), OUTLINE_ALPHA)).all()  # outlined, opaque
    outside = ~cv2.resize(big.view(np.uint8), DISPLAY, interpolation=cv2.INTER_NEAREST).view(bool)
    assert (image[outside][:, 3] == 0).all()
    # Boxes in display pixels: the red square is x 5..25, y 10..30 of 96x72.
    assert boxes[1][1:] == [33, 66, 134, 134]
    # A click picks what is drawn on top: the square, not the big mask under it.
    assert pick(masks, 100, 120, geo) == 1
    assert pick(masks, 620, 460, geo) is None
    assert pick(masks, 500, 200, geo) == 3
    assert pick(masks, -1, 5, geo) is None and pick(masks, 640, 5, geo) is None


def test_more_instances_than_a_palette_holds_are_drawn_too():
    """Past 127 instances on one frame the overlay is RGBA: the same pixels."""
    geo = Geometry(full_hw=(40, 400), display_wh=(400, 40))
    masks = []
    for k in range(130):
        m = np.zeros((40, 400), bool)
        m[5:35, 3 * k:3 * k + 2] = True
        masks.append((k + 1, m))
    png, boxes = render_overlay(masks, geo)
    image = rgba(png)
    assert len(boxes) == 130
    for k in (0, 64, 129):
        assert tuple(image[20, 3 * k + 1]) == (*track_color(k + 1), OUTLINE_ALPHA)  # its edge
    assert image[20, 3 * 129 + 2, 3] == 0


def test_the_selected_mask_is_opaque_white_on_transparent(tracked):
    geo = Geometry(full_hw=(72, 96), display_wh=DISPLAY)
    image = rgba(mask_png(display_mask(track_mask(view_snapshot(tracked), tracked.state.get(1), 2), geo)))
    want = cv2.resize(squares_masks()[0][2].view(np.uint8), DISPLAY, interpolation=cv2.INTER_NEAREST).view(bool)
    assert (image[want] == 255).all() and (image[~want][:, 3] == 0).all()


def test_an_empty_frame_has_no_overlay(tracked):
    geo = Geometry(full_hw=(72, 96), display_wh=DISPLAY)
    tracks = [tr.with_(refs=[0] * 8) for tr in tracked.state.tracks.values()]
    assert frame_masks(view_snapshot(tracked), tracks, 3) == []
    assert render_overlay([], geo) == (None, [])
    assert render_overlay([(1, np.zeros((72, 96), bool))], geo) == (None, [])  # an empty mask draws nothing


def test_byte_cache_stays_within_its_budget():
    cache = ByteCache(100)
    for k in range(10):
        cache.put(k, b"x" * 30, 30)
    assert cache.size <= 100 and cache.get(9) is not None and cache.get(0) is None
    assert cache.put("huge", b"x" * 200, 200) and cache.get("huge") is None
    made = []
    assert cache.get_or_make("k", lambda: made.append(1) or b"abc") == b"abc"
    assert cache.get_or_make("k", lambda: made.append(1) or b"abc") == b"abc" and made == [1]


# ---- the routes -------------------------------------------------------------------------

def test_routes_serve_frames_overlays_masks_and_the_track_list(client, tracked):
    http, token = client
    base = f"/clipvis/v/{token}"
    r = http.get(f"{base}/frame/3")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert r.content == tracked.frames.path(3).read_bytes()

    r = http.get(f"{base}/overlay/3")
    assert r.status_code == 200 and r.headers["X-Rev"] == str(tracked.revision)
    boxes = json.loads(r.headers["X-Boxes"])
    assert sorted(b[0] for b in boxes) == [1, 2]
    assert rgba(r.content).shape == (480, 640, 4)

    r = http.get(f"{base}/mask/1/3")
    alpha = rgba(r.content)[..., 3] > 0
    want = cv2.resize(squares_masks()[0][3].view(np.uint8), DISPLAY, interpolation=cv2.INTER_NEAREST).view(bool)
    assert (alpha == want).all()

    doc = http.get(f"{base}/tracks").json()
    assert [t["id"] for t in doc["tracks"]] == [1, 2] and doc["rev"] == tracked.revision
    assert doc["tracks"][0]["runs"] == [[0, 7]] and doc["tracks"][0]["name"] == "square"
    tracked.delete_frames(2, 3, 4)
    assert http.get(f"{base}/tracks").json()["tracks"][1]["runs"] == [[0, 2], [5, 7]]

    assert http.get(f"{base}/pick/3", params={"x": 100, "y": 150}).json()["track"] == 1
    assert http.get(f"{base}/rev").json() == {"rev": tracked.revision, "key": view_snapshot(tracked).key}


def test_routes_follow_edits_and_refuse_what_does_not_exist(client, tracked):
    http, token = client
    base = f"/clipvis/v/{token}"
    first = http.get(f"{base}/overlay/3")
    tracked.set_hidden(1, True)
    again = http.get(f"{base}/overlay/3")
    assert int(again.headers["X-Rev"]) == int(first.headers["X-Rev"]) + 1
    assert [b[0] for b in json.loads(again.headers["X-Boxes"])] == [2]
    # The hidden track is not in the overlay, but it can still be picked while selected.
    assert http.get(f"{base}/pick/3", params={"x": 100, "y": 150}).json()["track"] is None
    assert http.get(f"{base}/pick/3", params={"x": 100, "y": 150, "sel": 1}).json()["track"] == 1
    tracked.set_mask(2, 3, np.zeros((72, 96), bool))
    tracked.set_hidden(1, False)
    tracked.set_mask(1, 3, np.zeros((72, 96), bool))
    gone = http.get(f"{base}/overlay/3")
    assert gone.status_code == 204 and gone.headers["X-Boxes"] == "[]"
    # A threshold is no edit (no new revision), but it changes what is drawn: a new key.
    key = gone.headers["X-Key"]
    tracked.set_threshold(0.95)
    assert http.get(f"{base}/rev").json()["key"] != key
    assert http.get(f"{base}/mask/1/3").status_code == 204
    assert http.get(f"{base}/frame/8").status_code == 404
    assert http.get(f"{base}/overlay/-1").status_code == 404
    assert http.get(f"{base}/mask/99/0").status_code == 204  # a deleted track: nothing to draw
    assert http.get("/clipvis/v/not-a-token/frame/0").status_code == 410
    assert http.get(f"{base}/frame/x").status_code == 422


def test_a_token_dies_with_its_session(studio, tmp_path, video_file):
    import gc

    from app.session import Session
    s = Session.create(tmp_path / "w", "c" * 32, [video_file], "v.mp4")
    token = studio.viewer.token(s)
    assert studio.viewer.token(s) == token and len(token) >= 20 and studio.viewer.session(token) is s
    assert "c" * 32 not in token and s.meta.id not in token
    del s
    gc.collect()
    assert studio.viewer.session(token) is None


# ---- the value between the viewer and the handlers ------------------------------------

def test_viewer_value_and_what_comes_back_from_a_browser(studio, tracked):
    v = viewer_value(studio.viewer, tracked, select=2, seek=99)
    assert v["src"].startswith("clipvis/v/") and v["n"] == 8 and (v["w"], v["h"]) == DISPLAY
    assert v["cmd"]["select"] == 2 and v["cmd"]["seek"] == 7
    assert "cmd" not in viewer_value(studio.viewer, tracked)
    assert viewer_value(studio.viewer, None) == EMPTY
    assert str(tracked.folder) not in json.dumps(v)
    assert view_input({"frame": 5, "selected": "2"}, 8) == ViewInput(5, 2)
    for junk in (None, [], "x", {"frame": "x", "selected": [1]}, {"frame": 10**30, "selected": True}):
        got = view_input(junk, 8)
        assert 0 <= got.frame <= 7 and got.selected is None
    assert view_input({"frame": -4}, 8).frame == 0 and view_input({"frame": 99}, 8).frame == 7


def test_edits_act_on_the_frame_and_track_the_viewer_shows(studio, tracked):
    out = edit.split(studio, *at(tracked, frame=5, selected=1))
    assert "Split #1 at frame 5" in plain(out["message"])
    assert list(tracked.state.get(1).frames) == [0, 1, 2, 3, 4]
    # The browser keeps its selection; the tools and the tab's view describe it.
    assert "cmd" not in out["viewer"] and out["selected_info"].startswith("**#1 square**")
    assert (out["view"].selected, out["view"].frame, out["view"].revision) == (1, 5, tracked.revision)
    out = edit.delete(studio, *at(tracked, frame=0, selected=2))
    assert 2 not in tracked.state.tracks
    assert out["viewer"]["cmd"]["select"] is None  # the selected track is gone: the browser clears it
    out = edit.delete(studio, *at(tracked, frame=0, selected=None))
    assert out["message"].startswith("⚠️") and set(out) == {"message"}


def test_top_class_relabel_takes_the_class_from_the_server(studio, tracked):
    tracked.edit(lambda s: Proposal({1: s.get(1).with_(top_classes=((2, 0.7), (1, 0.2)))}, "scores"))
    out = edit.relabel_top(studio, *at(tracked, selected=2), event(track=1, rank=1, name="ignored"))
    assert tracked.state.get(1).category_id == 2 and "→ blob" in plain(out["message"])
    out = edit.relabel_top(studio, *at(tracked, selected=1), event(track=1, rank=3))
    assert "no top class 3" in plain(out["message"])


def strokes_png(add, erase) -> str:
    img = np.zeros((*add.shape, 4), np.uint8)
    img[add, 2] = 255
    img[erase, 1] = 255
    img[add | erase, 3] = 255
    return "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", img)[1].tobytes()).decode()


def test_brush_strokes_land_on_the_frame_they_were_painted_on(studio, tracked):
    add = np.zeros((480, 640), bool)
    add[400:460, 500:600] = True  # bottom right, empty in the video
    erase = np.zeros((480, 640), bool)
    erase[:, :320] = True  # the left half
    before = snapshot(tracked)[0]
    # The tab has moved on to frame 6 by the time the strokes arrive: they still land on frame 2.
    out = edit.paint(studio, *at(tracked, frame=6, selected=1),
                     event(frame=2, track=1, png=strokes_png(add, erase)))
    assert "Paint #1 on frame 2" in plain(out["message"])
    mask = rle_to_mask(tracked.segmentations(1)[2])
    red = squares_masks()[0][2]
    want = red.copy()
    want[:, :48] = False
    want[60:69, 75:90] = True  # 400..460 x 500..600 at 640/96 scale
    assert (mask == want).all()
    after = snapshot(tracked)[0]
    assert after[2] == before[2]  # the other track is untouched
    assert [t for t in range(8) if after[1][1][t] != before[1][1][t]] == [2]  # and so are the other frames
    # Strokes painted in a tab whose view is older than a change of that track (made in another tab) are refused.
    old = tab(tracked)
    tracked.relabel(1, "moved on")
    out = edit.paint(studio, old, shown(tracked, selected=1), event(frame=2, track=1, png=strokes_png(add, erase)))
    assert "#1 changed in another tab" in plain(out["message"])


def test_brush_strokes_that_are_not_right_are_refused(studio, tracked):
    before = snapshot(tracked)
    small = strokes_png(np.ones((10, 10), bool), np.zeros((10, 10), bool))
    for png, why in [(small, "10x10"), ("data:image/png;base64,AAAA", "PNG"), ("x" * 100, "PNG"),
                     ("data:image/png;base64," + "A" * (9 * 2**20), "too large"), (None, "PNG")]:
        out = edit.paint(studio, *at(tracked, selected=1), event(frame=2, track=1, png=png))
        assert why in plain(out["message"]), out["message"]
    out = edit.paint(studio, *at(tracked), event(frame=99, track=1, png=small))
    assert "no frame" in plain(out["message"])
    assert snapshot(tracked) == before


def test_the_merge_picker_tells_tracks_apart(studio, tracked):
    tracked.relabel(2, "<b>x</b> *y*")
    choices = view.merge_choices(tab(tracked, selected=1))
    assert choices == [("#2 <b>x</b> *y* · frames 0–7 · score 0.40", 2)]
    tracked.delete_frames(2, 3, 4)
    assert view.merge_choices(tab(tracked, selected=1))[0][0].startswith("#2 <b>x</b> *y* · frames 0–7 (6 of them)")
    info = view.selected_info(tab(tracked, selected=2))
    assert "&lt;b&gt;x&lt;\\/b&gt; \\*y\\*" in info and "**#2 <b>x</b> *y***" in plain(info)


def test_selecting_a_track_sends_the_tab_and_the_tools_only(tracked):
    out = view.select_track(*at(tracked), event(track=2))
    assert set(out) == {"view", *view.TOOLS} and out["view"].selected == 2
    assert out["selected_info"].startswith("**#2 blob**")
    assert [v for _, v in out["merge_with"]["choices"]] == [1]
    gone = view.select_track(*at(tracked), event(track=77))
    assert gone["selected_info"].startswith("No instance") and gone["view"].selected is None
    tracked.set_hidden(2, True)
    hidden = view.select_track(*at(tracked), event(track=2))
    assert hidden["hide_btn"]["value"] == "Show (h)" and "hidden" in hidden["selected_info"]
