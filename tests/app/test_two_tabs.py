"""Two browser tabs on one session: one document, two views. Each tab's
selection and brush strokes are its own, and an edit made against a view that
predates another tab's change to the same track is refused."""
from __future__ import annotations

import numpy as np

from clipvis.formats.rle import rle_to_mask
from tests.app.conftest import BROWSER, plain, tab

from app.callbacks import edit, files
from app.config import Studio, StudioConfig, parse_args


def test_each_tab_deletes_its_own_selection(studio, tracked):
    a, b = tab(tracked, selected=1), tab(tracked, selected=2)
    out_a = edit.delete(studio, a, None)  # the issue: tab A's Delete removed tab B's #2
    assert "Delete #1" in plain(out_a["message"]) and set(tracked.state.tracks) == {2}
    out_b = edit.delete(studio, b, None)  # B's view predates A's delete, but #2 did not change: allowed
    assert "Delete #2" in plain(out_b["message"]) and not tracked.state.tracks
    assert out_a["view"].selected is None and b.selected == 2  # views are copies, never shared


def test_an_edit_on_a_track_changed_in_another_tab_is_refused(studio, tracked):
    a, b = tab(tracked, selected=1), tab(tracked, selected=1)
    edit.relabel(studio, b, None, "circle")
    out = edit.delete(studio, a, None)
    assert "#1 changed in another tab" in plain(out["message"])
    assert 1 in tracked.state.tracks
    # The refusal redrew tab A's view from the current document: now the delete is made knowingly.
    assert out["view"].revision == tracked.revision == out["viewer"]["rev"]
    assert "Delete #1" in plain(edit.delete(studio, out["view"], None)["message"])


def test_the_viewer_cannot_claim_a_newer_view_than_the_server_showed(studio, tracked):
    """The viewer's value says which frame and track it shows, not which
    revision an edit is made against: that is the last one this tab was shown."""
    a = tab(tracked, selected=1)
    edit.relabel(studio, tab(tracked, selected=1), None, "circle")  # another tab
    out = edit.delete(studio, a, {"selected": 1, "frame": 0, "rev": 10**9})
    assert "#1 changed in another tab" in plain(out["message"]) and 1 in tracked.state.tracks


def test_an_edit_on_a_track_deleted_in_another_tab_is_refused(studio, tracked):
    a, b = tab(tracked, selected=2), tab(tracked, selected=2)
    edit.delete(studio, b, None)
    out = edit.relabel(studio, a, None, "circle")
    assert "#2 was deleted in another tab" in plain(out["message"])


def test_merge_checks_both_tracks(studio, tracked):
    a = tab(tracked, selected=1)
    edit.set_threshold(studio, tab(tracked), None, 0.0)  # a setting, not an edit: views stay current
    edit.relabel(studio, tab(tracked, selected=2), None, "blob2")  # another tab changes the other track
    out = edit.merge(studio, a, None, 2)
    assert "#2 changed in another tab" in plain(out["message"]) and 2 in tracked.state.tracks


def test_undo_from_a_stale_tab_is_refused(studio, tracked):
    a = tab(tracked)
    edit.relabel(studio, tab(tracked, selected=2), None, "blob2")
    out = edit.undo(studio, a, None)
    assert "changed in another tab" in plain(out["message"])
    assert tracked.state.class_name(tracked.state.get(2).category_id) == "blob2"
    assert "Undid: Relabel #2" in plain(edit.undo(studio, out["view"], None)["message"])


def test_brush_strokes_land_where_they_were_painted_whatever_each_tab_shows(studio, tracked):
    """Tab A paints #1 on frame 2 while showing frame 7; tab B paints #2 on
    frame 5: each stroke lands on its own track and frame."""
    import base64

    import cv2
    import types
    add = np.zeros((480, 640), bool)
    add[:60, :60] = True  # the top-left corner, at display size

    def strokes(frame, track):
        img = np.zeros((480, 640, 4), np.uint8)
        img[add] = (0, 0, 255, 255)
        png = "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", img)[1].tobytes()).decode()
        return types.SimpleNamespace(_data={"frame": frame, "track": track, "png": png, "rev": tracked.revision})
    a, b = tab(tracked, selected=1, frame=7), tab(tracked, selected=2, frame=0)
    out_a = edit.paint(studio, a, {"frame": 7, "selected": 1}, strokes(2, 1))
    assert "Paint #1 on frame 2" in plain(out_a["message"])
    out_b = edit.paint(studio, b, {"frame": 0, "selected": 2}, strokes(5, 2))
    assert "Paint #2 on frame 5" in plain(out_b["message"])
    assert rle_to_mask(tracked.segmentations(1)[2])[:5, :5].all() and rle_to_mask(tracked.segmentations(2)[5])[:5, :5].all()
    assert tracked.segmentations(1)[7] is not None and not rle_to_mask(tracked.segmentations(1)[7])[:5, :5].any()


def test_two_tabs_resuming_one_session_share_one_document(tmp_path, video_file):
    args = parse_args(["--workdir", str(tmp_path / "work")])
    studio = Studio(config=StudioConfig.from_args(args), service=None)
    loaded = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64, progress=lambda *a, **k: None)
    sid = loaded["view"].session.meta.id
    one = files.resume(studio, BROWSER, sid)["view"]
    two = files.resume(studio, BROWSER, sid)["view"]
    assert one.session is two.session is loaded["view"].session
