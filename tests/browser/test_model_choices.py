"""The model list as a visitor sees it (issue 15): names and file names, never a
server path; the demo model runs the whole flow with no weights at all."""
from __future__ import annotations

import shutil

import pytest

from tests.browser.conftest import serve_studio, shot
from tests.browser.studio_page import StudioPage


@pytest.fixture(scope="module")
def demo_studio(tmp_path_factory, tiny_checkpoint, playwright_browser):
    folder = tmp_path_factory.mktemp("server-checkpoints")
    shutil.copy(tiny_checkpoint, folder / "finetuned_street.pth")
    with serve_studio(["--model", "demo", "--checkpoint-dir", str(folder), "--device", "cpu",
                       "--workdir", str(tmp_path_factory.mktemp("studio"))]) as url:
        yield url, folder


def test_model_list_shows_names_and_the_demo_runs(page, demo_studio, squares_mp4):
    url, folder = demo_studio
    s = StudioPage(page, url).open()
    page.get_by_role("combobox", name="Model", exact=True).click()
    page.get_by_role("option").first.wait_for()
    options = [o.replace("✓", "").strip() for o in page.get_by_role("option").all_inner_texts()]
    assert any(o.startswith("configured: demo") for o in options), options
    assert "finetuned_street.pth (checkpoint folder)" in options
    assert any(o.startswith("clipvis_convnext_b_lvis") for o in options)
    assert not any("/" in o or str(folder) in o for o in options), options
    assert not any("path" in o for o in options)  # typed paths are off by default
    shot(page, "model_list")
    page.keyboard.press("Escape")

    s.upload(squares_mp4)
    s.wait_text("#probe", "160×120", "⚠️")
    s.load()
    status = s.run("red square, green square")
    assert "Run:" in status, status
    shot(page, "demo_model_run")
