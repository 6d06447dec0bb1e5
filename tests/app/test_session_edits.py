"""Every editing operation: its effect, undo, redo, and that it is on disk at once."""
from __future__ import annotations

import numpy as np
import pytest

from clipvis.formats.rle import rle_to_mask
from tests.app.conftest import BROWSER, snapshot, squares_masks

from app.session import Session


def reopened(session):
    return Session.open(session.folder.parents[1], BROWSER, session.meta.id)


def check_undo_redo(session, edit_fn):
    """Run an edit; undo must restore the exact state before, redo the state after,
    and each step must be what a fresh load from disk finds."""
    before = snapshot(session)
    edit_fn()
    after = snapshot(session)
    assert after != before, "the edit changed nothing"
    assert snapshot(reopened(session)) == after
    session.undo()
    assert snapshot(session) == before
    assert snapshot(reopened(session)) == before
    session.redo()
    assert snapshot(session) == after
    assert snapshot(reopened(session)) == after
    return after


def test_relabel_from_vocabulary_and_by_typing(tracked):
    check_undo_redo(tracked, lambda: tracked.relabel(1, 2))
    assert tracked.state.get(1).category_id == 2 and tracked.state.get(1).by_hand

    check_undo_redo(tracked, lambda: tracked.relabel(2, "bike|bicycle"))
    vocab = tracked.state.vocabulary
    assert vocab.names[-1] == "bike" and vocab.classes[-1].synonyms == ("bike", "bicycle")
    assert tracked.state.class_name(tracked.state.get(2).category_id) == "bike"
    tracked.undo()
    assert "bike" not in tracked.state.vocabulary.names  # undo takes the added class away too


def test_relabel_rejects_unknown_id_and_empty_name(tracked):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tracked.relabel(1, 99)
    with pytest.raises(ValueError, match="class name"):
        tracked.relabel(1, " | ")
    with pytest.raises(KeyError, match="#7"):
        tracked.relabel(7, 1)


def test_delete_and_delete_range(tracked):
    check_undo_redo(tracked, lambda: tracked.delete_frames(1, 5, 2))  # range given backwards
    segs = tracked.segmentations(1)
    assert [s is None for s in segs] == [False, False, True, True, True, True, False, False]

    check_undo_redo(tracked, lambda: tracked.delete(2))
    assert 2 not in tracked.state.tracks


def test_delete_range_covering_everything_deletes_the_track(tracked):
    tracked.delete_frames(2, 0, 7)
    assert 2 not in tracked.state.tracks
    tracked.undo()
    assert tracked.state.get(2).num_present == 8


def test_merge_fills_gaps_and_keeps_the_kept_masks(tracked):
    tracked.delete_frames(1, 4, 7)
    tracked.delete_frames(2, 0, 1)
    red, green = squares_masks()
    check_undo_redo(tracked, lambda: tracked.merge(1, 2))
    merged = tracked.state.get(1)
    assert 2 not in tracked.state.tracks
    assert merged.frames.tolist() == list(range(8))
    segs = tracked.segmentations(1)
    assert np.array_equal(rle_to_mask(segs[2]), red[2])  # both had it: #1's stays
    assert np.array_equal(rle_to_mask(segs[5]), green[5])  # only #2 had it
    assert merged.score == pytest.approx(0.9)
    with pytest.raises(ValueError, match="two different"):
        tracked.merge(1, 1)


def test_split_at_a_frame(tracked):
    check_undo_redo(tracked, lambda: tracked.split(1, 3))
    head, tail = tracked.state.get(1), tracked.state.get(3)
    assert head.frames.tolist() == [0, 1, 2] and tail.frames.tolist() == [3, 4, 5, 6, 7]
    assert tail.category_id == head.category_id and tail.origin == "split"
    with pytest.raises(ValueError, match="nothing to split"):
        tracked.split(1, 0)


def test_brush_edit_replaces_one_frame(tracked):
    painted = np.zeros((72, 96), bool)
    painted[0:5, 0:5] = True
    check_undo_redo(tracked, lambda: tracked.set_mask(2, 4, painted))
    assert np.array_equal(rle_to_mask(tracked.segmentations(2)[4]), painted)
    # The other frames are untouched.
    _, green = squares_masks()
    assert np.array_equal(rle_to_mask(tracked.segmentations(2)[3]), green[3])
    with pytest.raises(ValueError, match="96x72"):
        tracked.set_mask(2, 4, np.zeros((10, 10), bool))


def test_erasing_a_whole_mask_removes_the_frame(tracked):
    tracked.set_mask(1, 0, np.zeros((72, 96), bool))
    assert tracked.state.get(1).first_frame == 1


def test_copy_mask_forward(tracked):
    check_undo_redo(tracked, lambda: tracked.copy_forward(1, 5, 10))  # clipped at the last frame
    segs = tracked.segmentations(1)
    assert segs[6] == segs[5] and segs[7] == segs[5]
    assert segs[4] != segs[5]
    with pytest.raises(ValueError, match="last frame"):
        tracked.copy_forward(1, 7, 1)


def test_hide_is_an_edit_and_threshold_is_a_setting(tracked):
    check_undo_redo(tracked, lambda: tracked.set_hidden(2, True))
    assert [t.id for t in tracked.state.visible()] == [1]
    tracked.set_hidden(2, False)
    tracked.set_threshold(0.5)
    assert [t.id for t in tracked.state.visible(tracked.meta.threshold)] == [1]
    assert reopened(tracked).meta.threshold == 0.5
    assert set(tracked.state.tracks) == {1, 2}  # hidden, not deleted


def test_a_new_edit_clears_redo(tracked):
    tracked.delete(2)
    tracked.undo()
    assert tracked.redo_stack
    tracked.relabel(1, 2)
    assert not tracked.redo_stack
    assert tracked.redo() is None
    assert 2 in tracked.state.tracks


def test_undo_history_survives_a_restart(tracked):
    tracked.relabel(1, 2)
    tracked.split(2, 4)
    again = reopened(tracked)
    assert again.undo_stack == tracked.undo_stack
    again.undo()
    again.undo()
    assert again.state.get(1).category_id == 1 and 3 not in again.state.tracks
