"""The handlers with a real (tiny, random) model: run, cancel, re-query,
promote, missing weights, export and re-import."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clipvis.formats.rle import rle_to_mask

from tests.app.conftest import BROWSER, plain, snapshot, tab

from app.callbacks import edit, files, run
from app.config import Studio, StudioConfig, parse_args
from app.model_service import ModelService
from app.run_job import RunJob
from app.session import Session
from app.viewer.document import snapshot as view_snapshot
from app.viewer.document import track_rows


@pytest.fixture(scope="module")
def service(tiny_checkpoint, tiny_clip_config):
    # topk 4 of 10 query slots: some slots stay candidates for promotion.
    args = parse_args(["--checkpoint", str(tiny_checkpoint), "--clip-config", str(tiny_clip_config),
                       "--device", "cpu", "--topk", "4"])
    return ModelService.from_args(args)


@pytest.fixture
def studio(tmp_path, service):
    args = parse_args(["--workdir", str(tmp_path / "work")])
    return Studio(config=StudioConfig.from_args(args), service=service)


def load(studio, video_file):
    out = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64,
                           progress=lambda *a, **k: None)
    assert "view" in out, out.get("message")
    return out["view"].session


def run_to_end(studio, session, classes="red square, green square"):
    updates = list(run.run(studio, tab(session), classes, None, "default", "", 64))
    assert any("progress" in u.get("run_status", "") for u in updates[:-1])
    return updates[-1]


@pytest.fixture
def ran(studio, video_file):
    session = load(studio, video_file)
    last = run_to_end(studio, session)
    assert "Run:" in plain(last["message"]), last
    session.job_view = last["view"]  # the tab that ran it, as the run handler left it
    session.job_answer = last
    return session


def test_run_makes_one_track_per_query_and_keeps_the_analysis(ran):
    tracks = list(ran.state.tracks.values())
    assert 1 <= len(tracks) <= 4
    assert len({t.query for t in tracks}) == len(tracks)
    assert all(t.origin == "model" and len(t.top_classes) == 2 for t in tracks)
    assert ran.state.vocabulary.names == ["red square", "green square"]
    assert (ran.folder / "analysis" / "run-1.safetensors").exists()
    assert not list(ran.folder.rglob("*.pt"))
    assert ran.undo_stack[-1][1].startswith("Run:")
    # The run's last answer tells the tab's viewer to fetch the new state, and selects nothing.
    answer = ran.job_answer
    assert answer["viewer"]["rev"] == ran.revision and answer["viewer"]["cmd"]["select"] is None
    assert len(track_rows(view_snapshot(ran))["tracks"]) == len(tracks)


def test_cancel_leaves_the_tracks_as_they_were(studio, ran):
    before = snapshot(ran)
    job = RunJob(session=ran, service=studio.service, spec="default", vocabulary=ran.state.vocabulary, min_size=64,
                 queue=studio.runs)
    job.cancel.set()
    job.start().done.wait(60)
    assert job.error.startswith("Cancelled")
    assert snapshot(ran) == before
    assert run.cancel(tab(ran))["message"] == "No run is waiting or working for this video."


def test_missing_weights_are_explained_on_run(tmp_path, studio, video_file, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path / "empty-cache"))
    args = parse_args(["--model", "clipvis_r50_lvis", "--workdir", str(tmp_path / "w")])
    no_weights = Studio(config=StudioConfig.from_args(args), service=ModelService.from_args(args))
    session = load(no_weights, video_file)
    last = plain(list(run.run(no_weights, tab(session), "person", None, "default", "", 64))[-1]["message"])
    assert "No model weights" in last and "place it at" in last
    assert "clipvis_r50_lvis.pth" in last


def test_requery_relabels_model_tracks_but_not_hand_labels(studio, ran, monkeypatch):
    hand, *others = sorted(ran.state.tracks)
    ran.relabel(hand, "my label")
    asked = []
    classify = studio.service.classify
    monkeypatch.setattr(studio.service, "classify", lambda m, a, vocab: asked.append(vocab.names) or classify(m, a, vocab))
    out = run.requery(studio, tab(ran), None, "circle, triangle", None)
    assert asked == [["circle", "triangle"]]  # a hand label's class never competes for the model's tracks
    assert "without re-running" in plain(out["message"])
    names = {tid: ran.state.class_name(t.category_id) for tid, t in ran.state.tracks.items()}
    assert names[hand] == "my label"
    assert all(names[t] in ("circle", "triangle") for t in others)
    assert ran.state.vocabulary.names == ["circle", "triangle", "my label"]
    # The model tracks follow the engine's classification of their query slot.
    result = ran.result
    for tid in others:
        row = result.class_scores[ran.state.get(tid).query]
        assert names[tid] == result.vocabulary.names[int(np.argmax(row))]
    ran.undo()
    assert ran.state.vocabulary.names == ["red square", "green square", "my label"]


def test_requery_survives_a_restart(studio, ran):
    again = Session.open(studio.config.workdir, BROWSER, ran.meta.id)
    assert again.analysis is not None
    run.requery(studio, tab(again), None, "blob", None)
    assert {again.state.class_name(t.category_id) for t in again.state.tracks.values()} == {"blob"}


def test_requery_needs_a_run(studio, video_file):
    session = load(studio, video_file)
    assert "Run" in run.requery(studio, tab(session), None, "x", None)["message"]


def test_promote_a_dropped_query(studio, ran):
    out = run.candidates(studio, tab(ran))
    choices = out["candidates"]["choices"]
    assert choices, out["message"]
    query = choices[0][1]
    assert query not in {t.query for t in ran.state.tracks.values()}
    before = snapshot(ran)
    shown = run.promote(studio, tab(ran), None, query)
    new = ran.state.get(shown["view"].selected)
    assert new.origin == "promoted" and new.query == query and new.num_present
    # Its masks are the query's, decoded from the stored analysis when asked for.
    for t in new.frames:
        assert np.array_equal(rle_to_mask(ran.rle(new, t)), ran.analysis.query_masks(int(t), [query])[0])
    ran.undo()
    assert snapshot(ran) == before


def test_deleted_model_tracks_do_not_come_back_on_requery(studio, ran):
    victim = max(ran.state.tracks)
    query = ran.state.get(victim).query
    ran.delete(victim)
    run.requery(studio, tab(ran), None, "red square, green square", None)
    assert query not in {t.query for t in ran.state.tracks.values()}


def test_export_and_reimport_reproduce_the_tracks(studio, ran, tmp_path):
    ran.relabel(min(ran.state.tracks), "fixed")
    ran.set_mask(min(ran.state.tracks), 2, np.pad(np.ones((4, 4), bool), ((0, 68), (0, 92))))
    expected = snapshot(ran)
    dataset = files.export(tab(ran), "dataset")["export_file"]
    results = files.export(tab(ran), "results")["export_file"]
    for tid in list(ran.state.tracks):
        ran.delete(tid)
    assert not ran.state.tracks
    files.import_json(studio, tab(ran), None, dataset)
    assert snapshot(ran)[0] == expected[0]  # same ids, labels, scores, masks, studio fields
    assert {c.name for c in ran.state.vocabulary.classes} == {c.name for c in expected[1].classes}

    obj = json.loads(open(results).read())
    files.import_json(studio, tab(ran), None, results)
    got = sorted((t.category_id, round(t.score, 6), tuple(ran.segmentations(t.id))) for t in ran.state.tracks.values())
    want = sorted((r["category_id"], round(r["score"], 6),
                   tuple(None if s is None else s for s in r["segmentations"])) for r in obj)
    assert got == want


def test_import_refuses_another_videos_annotations(studio, ran, tmp_path):
    dataset = json.loads(open(files.export(tab(ran), "dataset")["export_file"]).read())
    dataset["videos"][0]["file_names"] = dataset["videos"][0]["file_names"][:5]
    dataset["videos"][0]["length"] = 5
    for a in dataset["annotations"]:
        for k in ("segmentations", "areas", "bboxes"):
            a[k] = a[k][:5]
        a["length"] = 5
    path = tmp_path / "short.json"
    path.write_text(json.dumps(dataset))
    before = snapshot(ran)
    out = files.import_json(studio, tab(ran), None, str(path))
    assert "5 frames" in plain(out["message"]) and "8 frames" in plain(out["message"])
    assert snapshot(ran) == before


def test_davis_and_overlay_exports(ran):
    import zipfile
    davis = files.export(tab(ran), "davis")["export_file"]
    with zipfile.ZipFile(davis) as zf:
        assert sum(n.endswith(".png") for n in zf.namelist()) == 8
    overlay = files.export(tab(ran), "overlay")
    assert overlay["export_file"].endswith(".mp4")
    from clipvis.video import open_video
    assert open_video(overlay["export_file"]).info.num_frames == 8


def test_threshold_hides_from_view_and_export(studio, ran):
    scores = sorted(t.score for t in ran.state.tracks.values())
    cut = (scores[0] + scores[-1]) / 2 if scores[0] < scores[-1] else scores[-1] + 1
    before = view_snapshot(ran).key
    out = edit.set_threshold(studio, tab(ran), None, cut)
    assert out["viewer"]["key"] != before  # the browser fetches the overlays again
    rows = track_rows(view_snapshot(ran))["tracks"]
    assert sum(r["shown"] for r in rows) == sum(s >= cut for s in scores)
    assert len(rows) == len(scores)  # weak ones still listed, to be selected
    msg = files.export(tab(ran), "dataset")["message"]
    assert "left out" in msg
    assert len(ran.state.tracks) == len(scores)  # nothing deleted


def test_viewing_and_editing_answer_while_a_run_works(studio, ran):
    """The run holds no lock the viewer or the editing tools need."""
    import threading

    from clipvis import Cancelled

    gate = threading.Event()

    class BusyService:  # a model pass that lasts until the test lets it end
        def loaded(self, spec):
            return True

        def get(self, spec):
            return None

        def analyse(self, spec, frames, **kwargs):
            gate.wait(60)
            raise Cancelled("cancelled")

    job = RunJob(session=ran, service=BusyService(), spec="default", vocabulary=ran.state.vocabulary,
                 min_size=64, queue=studio.runs).start()
    results = {}

    def use_the_ui():
        from fastapi import FastAPI
        from fastapi.testclient import TestClient

        from app.viewer.routes import viewer_routes
        http = TestClient(FastAPI(routes=viewer_routes(studio.viewer)))
        results["view"] = http.get(f"/clipvis/v/{studio.viewer.token(ran)}/overlay/3")
        results["edit"] = edit.relabel(studio, tab(ran), {"frame": 3, "selected": min(ran.state.tracks)},
                                       "while running")

    worker = threading.Thread(target=use_the_ui)
    worker.start()
    worker.join(timeout=30)
    still_running = job.running
    gate.set()
    job.done.wait(60)
    assert still_running and not worker.is_alive()
    assert results["view"].status_code == 200
    assert "→ while running" in plain(results["edit"]["message"])


def test_values_from_the_client_are_checked(studio, ran, tmp_path):
    from clipvis.vocab import VocabularyError

    secret = tmp_path / "secret.txt"
    secret.write_text("root\n")
    with pytest.raises(VocabularyError, match="unknown standard vocabulary"):
        run.build_vocabulary("", str(secret))  # never read a server file as a vocabulary
    both = run.build_vocabulary("foo|bar, person", "coco")
    assert both.names[-1] == "foo" and both.names.count("person") == 1 and len(both) == 81
    assert "⚠️" in edit.set_threshold(studio, tab(ran), None, float("nan"))["message"]
    assert run.input_size(10**6) == run.MAX_INPUT
    assert files.browser_id("../../etc") != "../../etc"


def test_merged_and_deleted_tracks_stay_gone_on_requery(studio, ran):
    """Issue 12 (3): delete a track from some frames, merge it into another,
    add a class and re-label: no new track equals the merged-away one."""
    keep, gone = sorted(ran.state.tracks)[:2]
    gone_query = ran.state.get(gone).query
    ran.delete_frames(gone, 0, 3)
    ran.merge(keep, gone)
    out = run.requery(studio, tab(ran), None, "red square, green square, blob", None)
    assert gone_query not in {t.query for t in ran.state.tracks.values()}, out["message"]
    assert ran.state.get(keep).query != gone_query  # the merged track keeps its own query
    ran.undo()  # the re-label
    ran.undo()  # the merge: the query slot is free again, and a re-label may find it
    assert gone_query not in ran.state.dismissed


def test_results_are_the_same_before_and_after_a_restart(studio, ran):
    """The run classifies what it stored, so a restart classifies the same."""
    before = ran.result.class_scores
    again = Session.open(studio.config.workdir, BROWSER, ran.meta.id)
    after = studio.service.classify(again.model, again.analysis, ran.state.vocabulary).class_scores
    assert np.array_equal(before, after)
    assert str(again.analysis.pooled.dtype) == "torch.float16"  # as stored


def test_a_new_run_takes_new_ids(studio, ran):
    first = set(ran.state.tracks)
    last = run_to_end(studio, ran, "red square")
    assert "Run:" in plain(last["message"]), last
    assert min(ran.state.tracks) > max(first)  # an id names one object for the session's life
    assert (ran.folder / "analysis" / "run-2.safetensors").exists()
    ran.undo()  # back to the first run's tracks and analysis
    assert set(ran.state.tracks) == first and ran.analysis_run["run"] == 1


def test_a_clip_one_frame_short_of_its_header_runs(studio, tmp_path):
    """Issue 12 (2): Load counts the frames it decodes, and Run uses that count."""
    import warnings

    from tests.app.test_session_files import one_frame_short

    path = one_frame_short(tmp_path / "short.avi", 9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        session = load(studio, path)
        last = run_to_end(studio, session, "square")
    assert session.meta.num_frames == 8
    assert "Run:" in plain(last["message"]), last
    assert session.analysis.num_frames == 8


def test_undo_works_in_the_tab_that_runs_the_model(studio, ran, monkeypatch):
    """The run's progress updates never put back the tab's view from before the
    run: an edit made meanwhile, then Undo, both apply (as Gradio would apply
    each update's "view" to the tab's state)."""
    import threading

    from clipvis import Cancelled

    gate = threading.Event()

    def busy(spec, frames, **kwargs):  # a model pass that lasts until the test lets it end
        gate.wait(60)
        raise Cancelled("cancelled")

    monkeypatch.setattr(studio.service, "analyse", busy)
    state = ran.job_view
    updates = run.run(studio, state, "red square", None, "default", "", 64)
    state = next(updates).get("view", state)
    hide = edit.toggle_hidden(studio, state, {"frame": 2, "selected": min(ran.state.tracks)})
    assert "Saved" in plain(hide["message"]), hide["message"]
    state = hide["view"]
    for _ in range(3):  # progress while the pass works
        state = next(updates).get("view", state)
    undo = edit.undo(studio, state, {"frame": 2})
    assert plain(undo["message"]).startswith("Undid"), undo["message"]
    state = undo["view"]
    gate.set()
    for update in updates:
        state = update.get("view", state)
    assert not ran.state.get(min(ran.state.tracks)).hidden
    assert plain(edit.redo(studio, state, {"frame": 2})["message"]).startswith("Redid")


def test_the_dataset_with_frames_loads_in_a_ytvis_trainer(studio, ran, tmp_path):
    """The zip holds the dataset JSON and JPEGImages/<file name>/<index>.jpg for every
    file_names entry, at the video's size, and its masks are the session's."""
    import zipfile

    import cv2

    from tests.label.test_label_frames import load_ytvis

    out = files.export(tab(ran), "frames")
    assert "with its frames" in plain(out["message"])
    with zipfile.ZipFile(out["export_file"]) as zf:
        zf.extractall(tmp_path / "unzipped")
    json_file, = (tmp_path / "unzipped").glob("*_ytvis_dataset.json")
    api, (record,) = load_ytvis(str(json_file), str(tmp_path / "unzipped" / "JPEGImages"))
    assert record["length"] == ran.meta.num_frames == len(record["file_names"])
    assert all(n.startswith("my ..video.mp4/") for n in api.vids[record["video_id"]]["file_names"])
    for t, ((_, rgb), path) in enumerate(zip(ran.open_video(), record["file_names"])):
        image = cv2.imread(path)
        assert image.shape[:2] == (record["height"], record["width"]), path
        assert abs(image[..., ::-1].astype(int) - rgb).mean() < 8  # the frame itself, as a JPEG (noisy frames)
    kept = {tid for tid in ran.state.tracks if not ran.state.get(tid).hidden}
    assert {o["id"] for objs in record["annotations"] for o in objs} <= kept
    # The JSON alone names the same files, so frames extracted later line up with it.
    alone = json.loads(Path(files.export(tab(ran), "dataset")["export_file"]).read_text())
    assert alone["videos"][0]["file_names"] == api.vids[record["video_id"]]["file_names"]
