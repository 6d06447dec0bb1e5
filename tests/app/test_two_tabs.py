"""Two browser tabs on one session: one document, two views. Each tab's
selection and brush target are its own, and an edit made against a view that
predates another tab's change to the same track is refused."""
from __future__ import annotations

import numpy as np

from clipvis.formats.rle import rle_to_mask
from tests.app.conftest import BROWSER, tab

from app.callbacks import edit, files
from app.config import Studio, StudioConfig, parse_args


def test_each_tab_deletes_its_own_selection(tracked):
    a, b = tab(tracked, selected=1), tab(tracked, selected=2)
    out_a = edit.delete(a, 0)  # the issue: tab A's Delete removed tab B's #2
    assert "Delete #1" in out_a["message"] and set(tracked.state.tracks) == {2}
    out_b = edit.delete(b, 0)  # B's view predates A's delete, but #2 did not change: allowed
    assert "Delete #2" in out_b["message"] and not tracked.state.tracks
    assert out_a["view"].selected is None and b.selected == 2  # views are copies, never shared


def test_an_edit_on_a_track_changed_in_another_tab_is_refused(tracked):
    a, b = tab(tracked, selected=1), tab(tracked, selected=1)
    edit.relabel(b, 0, "circle")
    out = edit.delete(a, 0)
    assert "#1 changed in another tab" in out["message"]
    assert 1 in tracked.state.tracks
    # The refusal redrew tab A's view from the current document: now the delete is made knowingly.
    assert out["view"].revision == tracked.revision
    assert "Delete #1" in edit.delete(out["view"], 0)["message"]


def test_an_edit_on_a_track_deleted_in_another_tab_is_refused(tracked):
    a, b = tab(tracked, selected=2), tab(tracked, selected=2)
    edit.delete(b, 0)
    out = edit.relabel(a, 0, "circle")
    assert "#2 was deleted in another tab" in out["message"]


def test_merge_checks_both_tracks(tracked):
    a = tab(tracked, selected=1)
    edit.set_threshold(tab(tracked), 0, 0.0)  # a setting, not an edit: views stay current
    edit.relabel(tab(tracked, selected=2), 0, "blob2")  # another tab changes the other track
    out = edit.merge(a, 0, 2)
    assert "#2 changed in another tab" in out["message"] and 2 in tracked.state.tracks


def test_undo_from_a_stale_tab_is_refused(tracked):
    a = tab(tracked)
    edit.relabel(tab(tracked, selected=2), 0, "blob2")
    out = edit.undo(a, 0)
    assert "changed in another tab" in out["message"]
    assert tracked.state.class_name(tracked.state.get(2).category_id) == "blob2"
    assert "Undid: Relabel #2" in edit.undo(out["view"], 0)["message"]


def test_the_brush_target_is_per_tab(tracked):
    """Tab A opens the brush on #1 at frame 2, tab B on #2 at frame 5; A's
    stroke lands on #1 at frame 2, wherever B is."""
    a = edit.open_editor(tab(tracked, selected=1), 2)["view"]
    b = edit.open_editor(tab(tracked, selected=2), 5)["view"]
    assert (a.brush.track_id, a.brush.frame) == (1, 2) and (b.brush.track_id, b.brush.frame) == (2, 5)
    layer = np.zeros((edit.EDITOR_CANVAS[1], edit.EDITOR_CANVAS[0], 4), np.uint8)
    x0, y0, w, h = a.brush.box
    layer[y0:y0 + h // 4, x0:x0 + w // 4] = 255  # paint the top-left corner
    out = edit.apply_editor(a, 7, {"layers": [layer]})
    assert "Paint #1 on frame 2" in out["message"]
    assert rle_to_mask(tracked.segmentations(1)[2])[:5, :5].all()
    assert out["view"].brush is None and b.brush is not None


def test_two_tabs_resuming_one_session_share_one_document(tmp_path, video_file):
    args = parse_args(["--workdir", str(tmp_path / "work")])
    studio = Studio(config=StudioConfig.from_args(args), service=None)
    loaded = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64, progress=lambda *a, **k: None)
    sid = loaded["view"].session.meta.id
    one = files.resume(studio, BROWSER, sid)["view"]
    two = files.resume(studio, BROWSER, sid)["view"]
    assert one.session is two.session is loaded["view"].session
