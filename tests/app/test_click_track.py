"""Click to track in the studio: the preview route's work, the Track handler
(a job in the runs' queue), the one undoable edit, labels from the stored
CLIP vector, re-label, and a SAM model that is not there.

SAM 2 is tests/prompt's tiny random model, written to a folder with
save_pretrained and loaded by the studio through `--sam-model` (the real
loading code); the CLIP-VIS side is the demo model. Nothing is downloaded.
"""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from clipvis.formats.rle import rle_to_mask
from clipvis.prompt import classify_track, engine_clip

from tests.app.conftest import BROWSER, plain, snapshot, tab
from tests.prompt.tiny_sam import tiny_sam_model, tiny_sam_processor

from app.callbacks import clicks, files, run
from app.clicks.routes import PromptRefused, prepare, preview
from app.config import Studio, StudioConfig, parse_args
from app.model_service import ModelService
from app.session import Session


@pytest.fixture(scope="module")
def sam_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sam") / "tiny sam2"
    tiny_sam_model().save_pretrained(folder)
    tiny_sam_processor().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def service():
    return ModelService.from_args(parse_args(["--model", "demo", "--device", "cpu"]))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    saved = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models on shared cores: OpenMP's waiting costs more than it gives
    yield
    torch.set_num_threads(saved)


def make_studio(tmp_path, service, sam_model):
    args = parse_args(["--workdir", str(tmp_path / "work"), "--sam-model", str(sam_model), "--device", "cpu"])
    return Studio(config=StudioConfig.from_args(args), service=service)


@pytest.fixture
def studio(tmp_path, service, sam_folder):
    return make_studio(tmp_path, service, sam_folder)


@pytest.fixture
def session(studio, video_file):
    out = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64, progress=lambda *a, **k: None)
    assert "view" in out, out.get("message")
    return out["view"].session


def click(studio, session, frame, points, click_id="c1", target=None, box=None):
    token = studio.viewer.token(session)
    return preview(studio.prompts, token, session, {"click": click_id, "frame": frame, "points": points,
                                                    "box": box, "target": target})


def track(studio, view, click_id="c1", replace=None, model="demo"):
    """The viewer's Track (propagate event), run to its end: (all updates, the tab's view after)."""
    evt = types.SimpleNamespace(_data={"click": click_id, "replace": replace})
    updates = list(clicks.track(studio, view, {"frame": view.frame, "selected": view.selected}, model, "", evt))
    return updates, updates[-1].get("view", view)


def red_square_point(session, frame):
    """The red square's centre on `frame` in display pixels (tests/conftest moving_squares_video)."""
    sx, sy = session_scale(session)
    return [(15 + 2 * frame) * sx, (20 + frame) * sy, 1]


def session_scale(session):
    from app.viewer.document import snapshot as view_snapshot
    geo = view_snapshot(session).geo
    return geo.display_wh[0] / session.meta.width, geo.display_wh[1] / session.meta.height


def test_a_click_gives_a_preview_then_a_track_over_every_frame(studio, session):
    mask, step = click(studio, session, 3, [red_square_point(session, 3)])
    dw, dh = session_scale(session)[0] * session.meta.width, session_scale(session)[1] * session.meta.height
    assert mask.shape == (round(dh), round(dw)) and mask.dtype == bool and 0 < mask.sum() < mask.size
    assert step.frame == 3
    revision = session.revision
    updates, view = track(studio, tab(session, frame=3))
    assert "Click-track #1" in updates[-1]["run_status"]  # the progress line ends with what was done
    last = updates[-1]
    assert "Click-track #1" in plain(last["message"]), last["message"]
    assert session.revision == revision + 1 and len(session.undo_stack) == 1  # one edit
    new = session.state.tracks[1]
    assert new.origin == "clicked" and new.score == 1.0 and view.selected == 1
    assert last["viewer"]["cmd"]["select"] == 1
    assert new.num_present == session.meta.num_frames  # every frame (the tiny SAM sees it everywhere)
    for t in range(session.meta.num_frames):
        m = rle_to_mask(session.rle(new, t))
        assert m.shape == (session.meta.height, session.meta.width)  # the frame's own size, not the display's
    # The preview is the prompted frame's mask, at full size.
    from app.clicks.job import full_size
    assert np.array_equal(rle_to_mask(session.rle(new, 3)), full_size(mask, (session.meta.height, session.meta.width)))


def test_undo_removes_the_track_and_redo_brings_it_back(studio, session):
    click(studio, session, 2, [red_square_point(session, 2)])
    track(studio, tab(session, frame=2))
    kept = snapshot(session)
    assert session.undo()
    assert session.state.tracks == {} and session.redo_stack
    assert session.redo() and snapshot(session) == kept
    # And from disk, with its stored vector.
    again = Session.open(session.folder.parents[1], BROWSER, session.meta.id)
    assert snapshot(again) == kept and again.vector(again.state.tracks[1])[1].shape == (64,)


def test_label_is_classify_track_of_the_stored_vector(studio, session, service):
    # A vocabulary first (a run of the demo model), so the clicked track has classes to choose from.
    list(run.run(studio, tab(session), "red square, green square, sky, road, tree, car", None, "demo", "", 64))
    click(studio, session, 4, [red_square_point(session, 4)])
    updates, view = track(studio, tab(session, frame=4))
    new = session.state.tracks[view.selected]
    model, vector = session.vector(new)
    assert model == "demo" and vector.dtype == np.float32
    expected = classify_track(engine_clip(service.get("demo")), torch.from_numpy(vector), session.state.vocabulary)
    assert [c for c, _ in new.top_classes] == [c.category_id for c in expected]
    assert np.allclose([s for _, s in new.top_classes], [c.score for c in expected])
    assert new.category_id == expected[0].category_id and len(new.top_classes) == 5
    assert "Top classes:" in plain(updates[-1]["message"])
    # Re-label after a run: the model's tracks from the stored analysis, the clicked one from its vector.
    answer = run.requery(studio, tab(session), {"frame": 0}, "cat, dog, red square", None)
    assert "Re-labelled" in plain(answer["message"]), answer["message"]
    again = session.state.tracks[new.id]
    expected = classify_track(engine_clip(service.get("demo")), torch.from_numpy(vector), session.state.vocabulary)
    assert again.category_id == expected[0].category_id and again.vector == new.vector
    assert [c for c, _ in again.top_classes] == [c.category_id for c in expected]


def test_relabel_reclassifies_clicked_tracks_unless_set_by_hand(studio, session, service):
    click(studio, session, 0, [red_square_point(session, 0)], click_id="a")
    track(studio, tab(session, frame=0), click_id="a")
    sx, sy = session_scale(session)
    click(studio, session, 0, [[70 * sx, 50 * sy, 1]], click_id="b")  # the green square
    track(studio, tab(session, frame=0), click_id="b")
    assert sorted(session.state.tracks) == [1, 2]
    session.relabel(2, "my own class")
    answer = run.requery(studio, tab(session), {"frame": 0}, "cat, dog, bird", None)  # no run: clicked tracks only
    assert "Re-labelled" in plain(answer["message"]), answer["message"]
    vocab = session.state.vocabulary
    assert vocab.names == ["cat", "dog", "bird", "my own class"]
    first = session.state.tracks[1]
    model, vector = session.vector(first)
    # Classified against the asked classes: a class kept only for a hand label does not compete.
    asked = run.build_vocabulary("cat, dog, bird", None)
    expected = classify_track(engine_clip(service.get(model)), torch.from_numpy(vector), asked)
    assert first.category_id == expected[0].category_id
    assert [c for c, _ in first.top_classes] == [c.category_id for c in expected]
    assert session.state.class_name(session.state.tracks[2].category_id) == "my own class"  # by hand: kept
    assert session.undo() and "cat" not in session.state.vocabulary.names  # one undoable edit


def test_replace_from_this_frame_keeps_the_frames_before(studio, session):
    click(studio, session, 0, [red_square_point(session, 0)], click_id="a")
    track(studio, tab(session, frame=0), click_id="a")
    before = snapshot(session)[0][1][1]
    sx, sy = session_scale(session)
    click(studio, session, 5, [[70 * sx, 50 * sy, 1]], click_id="fresh")  # a new click (the green square)
    updates, view = track(studio, tab(session, frame=5, selected=1), click_id="fresh", replace=1)
    assert "again from frame 5" in plain(updates[-1]["message"])
    after = snapshot(session)[0][1][1]
    assert sorted(session.state.tracks) == [1]
    assert after[:5] == before[:5]  # kept
    assert after[5:] != before[5:]  # replaced by the green square's masks
    assert len(session.undo_stack) == 2 and session.undo() and snapshot(session)[0][1][1] == before


def test_a_correction_on_a_later_frame_repropagates_from_there(studio, session):
    click(studio, session, 1, [red_square_point(session, 1)], click_id="first")
    track(studio, tab(session, frame=1), click_id="first")
    before = snapshot(session)[0][1][1]
    # A new click id on the selected clicked track continues its click (SAM 2 keeps the first prompt).
    _, step = click(studio, session, 6, [red_square_point(session, 6), [5, 5, 0]], click_id="fix", target=1)
    token = studio.viewer.token(session)
    assert studio.prompts.clicks.get(token, "fix").prompt is studio.prompts.clicks.for_track(token, 1).prompt
    assert studio.prompts.clicks.get(token, "fix").prompt.prompts.keys() == {1, 6}
    updates, _ = track(studio, tab(session, frame=6, selected=1), click_id="fix", replace=1)
    after = snapshot(session)[0][1][1]
    assert after[:6] == before[:6] and len(session.undo_stack) == 2
    assert "again from frame 6" in plain(updates[-1]["message"])


def test_cancel_leaves_the_session_unchanged(studio, session, monkeypatch):
    click(studio, session, 3, [red_square_point(session, 3)])
    kept, revision = snapshot(session), session.revision
    from app.clicks.job import TrackJob
    original = TrackJob._propagate

    def cancelled_midway(self, direction):
        self.cancel.set()  # as if Cancel was pressed while SAM 2 ran
        return original(self, direction)
    monkeypatch.setattr(TrackJob, "_propagate", cancelled_midway)
    updates, _ = track(studio, tab(session, frame=3))
    assert "Cancelled: the session is unchanged" in plain(updates[-1]["message"])
    assert snapshot(session) == kept and session.revision == revision and not session.undo_stack


def test_cancel_button_reaches_a_track(studio, session, monkeypatch):
    """The run's Cancel button stops a Track between frames; nothing is kept."""
    import threading
    from app.clicks.job import TrackJob
    click(studio, session, 3, [red_square_point(session, 3)])
    kept = snapshot(session)
    started, original = threading.Event(), TrackJob._propagate

    def waits_for_cancel(self, direction):
        started.set()
        assert self.cancel.wait(30)  # SAM 2 "running" until Cancel is pressed
        return original(self, direction)
    monkeypatch.setattr(TrackJob, "_propagate", waits_for_cancel)
    view = tab(session, frame=3)
    gen = clicks.track(studio, view, {"frame": 3}, "demo", "", types.SimpleNamespace(_data={"click": "c1"}))
    first = next(gen)
    assert "run_status" in first and "view" not in first and started.wait(30)  # the tab's view is left alone
    assert "Cancelling" in run.cancel(view)["message"]  # any tab of the session reaches the job
    last = list(gen)[-1]
    assert "Cancelled: the session is unchanged" in plain(last["message"])
    assert snapshot(session) == kept and not session.undo_stack


def test_bad_prompts_get_a_sentence(studio, session):
    for body, words in [({"click": "x", "frame": 99, "points": [[1, 1, 1]]}, "no frame 99"),
                        ({"click": "x", "frame": 0, "points": [[1, 1, 0]]}, "only negative points"),
                        ({"click": "x", "frame": 0, "points": [[-5, 1, 1]]}, "outside"),
                        ({"click": "", "frame": 0, "points": [[1, 1, 1]]}, "no id"),
                        ({"click": "x", "frame": 0, "points": "nope"}, "a point is")]:
        with pytest.raises(PromptRefused) as e:
            preview(studio.prompts, studio.viewer.token(session), session, body)
        assert words in str(e.value), (body, str(e.value))
    evt = types.SimpleNamespace(_data={"click": "never-clicked"})
    answer = list(clicks.track(studio, tab(session), {"frame": 0}, "demo", "", evt))[-1]
    assert "click on the object first" in plain(answer["message"])


def test_offline_sam_says_what_to_do_and_the_rest_works(tmp_path, service, video_file):
    studio = make_studio(tmp_path, service, "facebook/sam2.1-hiera-tiny")  # not in the (test) Hub cache
    out = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64, progress=lambda *a, **k: None)
    session = out["view"].session
    with pytest.raises(PromptRefused) as e:
        preview(studio.prompts, studio.viewer.token(session), session,
                {"click": "c", "frame": 0, "points": [[10, 10, 1]]})
    text = str(e.value)
    assert e.value.status == 503
    for words in ("facebook/sam2.1-hiera-tiny", "hf download", "--sam-model", "CLIPVIS_SAM_MODEL"):
        assert words in text
    # The rest of the studio works: a run, an edit, undo.
    last = list(run.run(studio, tab(session), "red square", None, "demo", "", 64))[-1]
    assert "Run:" in plain(last["message"])
    tid = next(iter(session.state.tracks))
    session.delete(tid)
    assert session.undo() and tid in session.state.tracks


def test_a_prepared_frame_gives_the_same_preview(studio, session):
    token = studio.viewer.token(session)
    assert prepare(studio.prompts, token, session, {"click": "p", "frame": 5})
    prepared, _ = click(studio, session, 5, [red_square_point(session, 5)], click_id="p")
    plain_click, _ = click(studio, session, 5, [red_square_point(session, 5)], click_id="q")
    assert np.array_equal(prepared, plain_click)
    with pytest.raises(PromptRefused):
        prepare(studio.prompts, token, session, {"click": "p", "frame": -1})


def test_a_schema_1_session_opens_with_the_vectors_table(session):
    """Sessions saved before clicked tracks existed are brought up to date when opened."""
    import sqlite3
    root, sid = session.folder.parents[1], session.meta.id
    session.close()
    conn = sqlite3.connect(str(session.folder / "session.sqlite"))
    conn.execute("DROP TABLE vectors")
    conn.execute("UPDATE settings SET value = '1' WHERE key = 'schema'")
    conn.commit()
    conn.close()
    again = Session.open(root, BROWSER, sid)
    assert again.db.query("SELECT value FROM settings WHERE key = 'schema'")[0][0] == "2"
    assert again.db.query("SELECT COUNT(*) FROM vectors")[0][0] == 0


def test_an_export_imported_elsewhere_drops_the_vector(studio, session, tmp_path, video_file):
    import json
    click(studio, session, 0, [red_square_point(session, 0)])
    track(studio, tab(session, frame=0))
    assert session.state.tracks[1].vector is not None
    from app.callbacks import files as files_cb
    out = files_cb.export(tab(session), kind="dataset")
    export_file = out["export_file"]
    data = json.loads(open(getattr(export_file, "value", export_file), encoding="utf-8").read())
    assert data["annotations"][0]["studio"]["origin"] == "clicked"
    other = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64,
                             progress=lambda *a, **k: None)["view"].session
    path = tmp_path / "export.json"
    path.write_text(json.dumps(data))
    files_cb.import_json(studio, tab(other), {"frame": 0}, str(path))
    imported = next(iter(other.state.tracks.values()))
    assert imported.origin == "imported" and imported.vector is None


def test_without_the_clip_vis_model_the_track_is_kept_unlabelled(tmp_path, sam_folder, video_file, monkeypatch):
    """The CLIP-VIS model cannot load (a released checkpoint not downloaded): SAM 2's track is still
    one undoable edit, of class "object", and the message says why it has no label."""
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path / "no-weights"))  # a released model, not downloaded
    service = ModelService.from_args(parse_args(["--model", "clipvis_r50_lvis", "--device", "cpu"]))
    studio = make_studio(tmp_path, service, sam_folder)
    session = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64,
                               progress=lambda *a, **k: None)["view"].session
    click(studio, session, 0, [red_square_point(session, 0)])
    updates, view = track(studio, tab(session, frame=0), model="default")
    message = plain(updates[-1]["message"])
    assert "Click-track #1 object" in message and "No CLIP label" in message, message
    new = session.state.tracks[1]
    assert new.vector is None and new.top_classes == () and new.num_present == session.meta.num_frames
