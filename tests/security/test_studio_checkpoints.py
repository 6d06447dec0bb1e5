"""Which checkpoints the studio loads (issue 15): the configured model, the
registry, the demo and the checkpoint folder by file name; typed paths only
with --allow-checkpoint-paths and never from upload, temporary or session
folders; no server path shown. And the issue's attack, through the app's API."""
from __future__ import annotations

import shutil

import httpx
import pytest

from app.config import parse_args
from app.model_service import CUSTOM, DEFAULT, FOLDER, TYPED, ModelService, without_paths
from clipvis import DEMO, CheckpointMismatch
from clipvis.formats.overlay import write_overlay_video

from tests.browser.conftest import serve_studio
from tests.conftest import moving_squares_video


def service(tmp_path, *extra, model=DEMO):
    return ModelService.from_args(parse_args(["--model", model, "--workdir", str(tmp_path / "work"), *extra]))


def test_the_model_list_shows_names_never_paths(tmp_path, tiny_checkpoint):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    shutil.copy(tiny_checkpoint, folder / "finetuned.pth")
    (folder / "notes.txt").write_text("not a checkpoint")
    svc = service(tmp_path, "--checkpoint", str(tiny_checkpoint), "--checkpoint-dir", str(folder))
    choices = svc.choices()
    labels = " ".join(label for label, _ in choices)
    assert str(tmp_path) not in labels and "/" not in labels
    assert ("configured: tiny.pth", DEFAULT) in choices
    assert ("finetuned.pth (checkpoint folder)", FOLDER + "finetuned.pth") in choices
    assert DEMO in [v for _, v in choices] and CUSTOM not in [v for _, v in choices]
    assert not any("notes" in v for _, v in choices)


def test_typed_paths_are_off_unless_allowed(tmp_path, tiny_checkpoint):
    with pytest.raises(ValueError, match="--allow-checkpoint-paths"):
        service(tmp_path).spec(CUSTOM, str(tiny_checkpoint))


def test_typed_paths_never_load_from_visitor_folders(tmp_path, tiny_checkpoint, monkeypatch):
    uploads = tmp_path / "gradio-uploads"
    uploads.mkdir()
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    svc = service(tmp_path, "--allow-checkpoint-paths")
    (tmp_path / "work").mkdir()
    for folder in (uploads, tmp_path / "work"):
        placed = folder / "model.pth"
        shutil.copy(tiny_checkpoint, placed)
        with pytest.raises(ValueError, match="never loaded from the upload") as e:
            svc.spec(CUSTOM, str(placed))
        assert str(folder) not in str(e.value)
    # The system's temporary folder too (pytest's tmp_path lies in it).
    with pytest.raises(ValueError, match="never loaded"):
        svc.spec(CUSTOM, str(tiny_checkpoint))
    assert svc.spec(DEFAULT) == DEFAULT and svc.spec(DEMO) == DEMO


def test_a_typed_path_outside_visitor_folders_loads(tmp_path, tiny_checkpoint, tiny_clip_config, monkeypatch):
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path / "elsewhere"))  # tmp_path is not a temp dir here
    svc = service(tmp_path, "--allow-checkpoint-paths", "--clip-config", str(tiny_clip_config), "--device", "cpu")
    spec = svc.spec(CUSTOM, str(tiny_checkpoint))
    assert spec == TYPED + str(tiny_checkpoint.resolve())
    assert svc.get(spec).model.num_queries == 10
    for bad in ("", "relative/model.pth", str(tmp_path / "missing.pth"), str(tiny_clip_config)):
        with pytest.raises(ValueError):
            svc.spec(CUSTOM, bad)


def test_folder_names_only_and_unsafe_files_refused_on_load(tmp_path, torch_pickle, marker):
    folder = tmp_path / "ckpts"
    folder.mkdir()
    shutil.copy(torch_pickle, folder / "suspicious.pth")
    svc = service(tmp_path, "--checkpoint-dir", str(folder))
    for sneaky in (FOLDER + "../ckpts/suspicious.pth", FOLDER + str(folder / "suspicious.pth"), "/etc/passwd"):
        with pytest.raises(ValueError):
            svc.spec(sneaky)
    spec = svc.spec(FOLDER + "suspicious.pth")
    with pytest.raises(CheckpointMismatch) as e:
        svc.get(spec)
    assert "suspicious.pth" in str(e.value) and str(folder) not in str(e.value)
    assert not marker.exists()


def test_messages_lose_server_folders():
    assert without_paths("x /srv/models/ckpt.pth is bad; see /home/u/.cache/clipvis/a.pth") == \
        "x …/ckpt.pth is bad; see …/a.pth"
    assert without_paths("get it from https://drive.example.com/d?id=1 now") == \
        "get it from https://drive.example.com/d?id=1 now"


# ---- the attack, through the app's HTTP API -------------------------------------------
@pytest.fixture(params=["paths off (default)", "--allow-checkpoint-paths"])
def studio_url_mode(request):
    return request.param


@pytest.fixture
def studio_url(studio_url_mode, tmp_path):
    extra = ["--allow-checkpoint-paths"] if "allow" in studio_url_mode else []
    (tmp_path / "work").mkdir()  # a --workdir given must exist (app.config.prepare_workdir)
    with serve_studio(["--model", DEMO, "--device", "cpu", "--workdir", str(tmp_path / "work"), *extra]) as url:
        yield url


def test_upload_then_load_runs_no_code(studio_url, studio_url_mode, raw_pickle, marker, tmp_path):
    from gradio_client import Client, handle_file

    # 1. Upload the pickle; the response gives its path on the server.
    with open(raw_pickle, "rb") as f:
        r = httpx.post(studio_url + "gradio_api/upload", files={"files": ("model.pth", f)}, timeout=60)
    r.raise_for_status()
    server_path = r.json()[0]
    assert server_path.endswith(".pth")
    # 2. Load a video (a run needs one), then run with the custom checkpoint at that path.
    video = write_overlay_video(tmp_path / "clip.mp4", iter(moving_squares_video(4)), fps=5)
    client = Client(studio_url, verbose=False)
    loaded = client.predict(None, handle_file(str(video)), None, None, 1, 0, 480, api_name="/load_video")
    assert "Loaded clip" in str(loaded), loaded  # the message is Markdown: the name is escaped (clip\\.mp4)
    paths_allowed = "allow" in studio_url_mode
    try:
        message = str(client.predict("thing", None, CUSTOM, server_path, 480, api_name="/run"))
    except Exception as e:  # noqa: BLE001 - Gradio answers a refused input value with an error
        message = str(e)
    # 3. No code ran, and the studio said why.
    assert not marker.exists()
    if paths_allowed:  # the entry exists, and our policy refuses the upload folder
        assert "never loaded from the upload" in message, message
    else:  # the entry is not offered, and Gradio refuses a value outside the choices
        assert "not in the list of choices" in message, message
    assert server_path not in message
