"""The handlers with a real (tiny, random) model: run, cancel, re-query,
promote, missing weights, export and re-import."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.app.conftest import BROWSER, plain, snapshot

from app.callbacks import edit, files, run
from app.config import Studio, StudioConfig, parse_args
from app.model_service import ModelService
from app.run_job import RunJob
from app.session import Session


@pytest.fixture(scope="module")
def service(tiny_checkpoint, tiny_clip_config):
    # topk 4 of 10 query slots: some slots stay candidates for promotion.
    args = parse_args(["--checkpoint", str(tiny_checkpoint), "--clip-config", str(tiny_clip_config),
                       "--device", "cpu", "--topk", "4"])
    return ModelService(args)


@pytest.fixture
def studio(tmp_path, service):
    args = parse_args(["--workdir", str(tmp_path / "work")])
    return Studio(config=StudioConfig.from_args(args), service=service)


def load(studio, video_file):
    out = files.load_video(studio, BROWSER, str(video_file), None, None, 1, 0, 64,
                           progress=lambda *a, **k: None)
    assert "session" in out, out.get("message")
    return out["session"]


def run_to_end(studio, session, classes="red square, green square"):
    updates = list(run.run(studio, session, None, classes, None, "default", "", 64))
    assert any("progress" in u.get("run_status", "") for u in updates[:-1])
    return updates[-1]


@pytest.fixture
def ran(studio, video_file):
    session = load(studio, video_file)
    last = run_to_end(studio, session)
    assert "Run:" in plain(last["message"]), last
    return session


def test_run_makes_one_track_per_query_and_keeps_the_analysis(ran):
    tracks = list(ran.state.tracks.values())
    assert 1 <= len(tracks) <= 4
    assert len({t.query for t in tracks}) == len(tracks)
    assert all(t.origin == "model" and len(t.top_classes) == 2 for t in tracks)
    assert ran.state.vocabulary.names == ["red square", "green square"]
    assert (ran.folder / "analysis.pt").exists()
    assert ran.history.undo_stack[-1].label.startswith("Run:")


def test_cancel_leaves_the_tracks_as_they_were(studio, ran):
    before = snapshot(ran)
    job = RunJob(session=ran, service=studio.service, spec="default", vocabulary=ran.state.vocabulary, min_size=64)
    job.cancel.set()
    job.start().done.wait(60)
    assert job.error.startswith("Cancelled")
    assert snapshot(ran) == before
    assert run.cancel(ran)["message"] == "No run is waiting or working for this video."


def test_missing_weights_are_explained_on_run(tmp_path, studio, video_file, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path / "empty-cache"))
    args = parse_args(["--model", "clipvis_r50_lvis", "--workdir", str(tmp_path / "w")])
    no_weights = Studio(config=StudioConfig.from_args(args), service=ModelService(args))
    session = load(no_weights, video_file)
    last = plain(list(run.run(no_weights, session, None, "person", None, "default", "", 64))[-1]["message"])
    assert "No model weights" in last and "place it at" in last
    assert "clipvis_r50_lvis.pth" in last


def test_requery_relabels_model_tracks_but_not_hand_labels(studio, ran):
    hand, *others = sorted(ran.state.tracks)
    ran.relabel(hand, "my label")
    out = run.requery(studio, ran, None, "circle, triangle", None)
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
    run.requery(studio, again, None, "blob", None)
    assert {again.state.class_name(t.category_id) for t in again.state.tracks.values()} == {"blob"}


def test_requery_needs_a_run(studio, video_file):
    session = load(studio, video_file)
    assert "Run" in run.requery(studio, session, None, "x", None)["message"]


def test_promote_a_dropped_query(studio, ran):
    out = run.candidates(studio, ran)
    choices = out["candidates"]["choices"]
    assert choices, out["message"]
    query = choices[0][1]
    assert query not in {t.query for t in ran.state.tracks.values()}
    before = snapshot(ran)
    out = run.promote(studio, ran, None, query)
    new = ran.state.get(out["viewer"]["cmd"]["select"])  # the browser is told to select the new track
    assert new.origin == "promoted" and new.query == query and new.frames
    ran.undo()
    assert snapshot(ran) == before


def test_deleted_model_tracks_do_not_come_back_on_requery(studio, ran):
    victim = max(ran.state.tracks)
    query = ran.state.get(victim).query
    ran.delete(victim)
    run.requery(studio, ran, None, "red square, green square", None)
    assert query not in {t.query for t in ran.state.tracks.values()}


def test_export_and_reimport_reproduce_the_tracks(studio, ran, tmp_path):
    ran.relabel(min(ran.state.tracks), "fixed")
    ran.set_mask(min(ran.state.tracks), 2, np.pad(np.ones((4, 4), bool), ((0, 68), (0, 92))))
    expected = snapshot(ran)
    dataset = files.export(ran, "dataset")["export_file"]
    results = files.export(ran, "results")["export_file"]
    for tid in list(ran.state.tracks):
        ran.delete(tid)
    assert not ran.state.tracks
    files.import_json(studio, ran, None, dataset)
    assert snapshot(ran)[0] == expected[0]  # same ids, labels, scores, masks, studio fields
    assert {c.name for c in ran.state.vocabulary.classes} == {c.name for c in expected[1].classes}

    obj = json.loads(open(results).read())
    files.import_json(studio, ran, None, results)
    got = sorted((t.category_id, round(t.score, 6), t.segmentations) for t in ran.state.tracks.values())
    want = sorted((r["category_id"], round(r["score"], 6),
                   tuple(None if s is None else s for s in r["segmentations"])) for r in obj)
    assert got == want


def test_import_refuses_another_videos_annotations(studio, ran, tmp_path):
    dataset = json.loads(open(files.export(ran, "dataset")["export_file"]).read())
    dataset["videos"][0]["file_names"] = dataset["videos"][0]["file_names"][:5]
    dataset["videos"][0]["length"] = 5
    for a in dataset["annotations"]:
        for k in ("segmentations", "areas", "bboxes"):
            a[k] = a[k][:5]
        a["length"] = 5
    path = tmp_path / "short.json"
    path.write_text(json.dumps(dataset))
    before = snapshot(ran)
    out = files.import_json(studio, ran, None, str(path))
    assert "5 frames" in plain(out["message"]) and "8 frames" in plain(out["message"])
    assert snapshot(ran) == before


def test_davis_and_overlay_exports(ran):
    import zipfile
    davis = files.export(ran, "davis")["export_file"]
    with zipfile.ZipFile(davis) as zf:
        assert sum(n.endswith(".png") for n in zf.namelist()) == 8
    overlay = files.export(ran, "overlay")
    assert overlay["export_file"].endswith(".mp4")
    from clipvis.video import open_video
    assert open_video(overlay["export_file"]).info.num_frames == 8


def test_threshold_hides_from_view_and_export(studio, ran):
    from app.viewer.document import snapshot as view_snapshot
    from app.viewer.document import track_rows
    scores = sorted(t.score for t in ran.state.tracks.values())
    cut = (scores[0] + scores[-1]) / 2 if scores[0] < scores[-1] else scores[-1] + 1
    out = edit.set_threshold(studio, ran, None, cut)
    assert out["viewer"]["rev"] == ran.revision  # the browser fetches the overlays again
    rows = track_rows(view_snapshot(ran))["tracks"]
    assert sum(r["shown"] for r in rows) == sum(s >= cut for s in scores)
    assert len(rows) == len(scores)  # weak ones still listed, to be selected
    msg = files.export(ran, "dataset")["message"]
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
        value = {"frame": 3, "selected": min(ran.state.tracks)}
        results["edit"] = edit.relabel(studio, ran, value, "while running")

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
    assert "⚠️" in edit.set_threshold(studio, ran, None, float("nan"))["message"]
    assert run.input_size(10**6) == run.MAX_INPUT
    assert files.browser_id("../../etc") != "../../etc"
