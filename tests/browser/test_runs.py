"""Runs in Chromium: what fails says so in a sentence and leaves no Gradio
error element; a run waiting for the model shows its place and can be
cancelled from another browser than the one running."""
from __future__ import annotations

import pytest

from tests.browser.conftest import TIMEOUT_MS, free_port, shot, wait_for_http
from tests.browser.studio_page import ERROR_ELEMENTS, VIEWER, StudioPage


@pytest.fixture(scope="module")
def long_mp4(tmp_path_factory):
    """40 frames of the two squares: a run of a few seconds with the tiny model."""
    from clipvis.formats.overlay import write_overlay_video
    from tests.conftest import moving_squares_video
    frames = moving_squares_video(num_frames=40, h=120, w=160)
    return write_overlay_video(tmp_path_factory.mktemp("video") / "forty frames.mp4", iter(frames), fps=10)


def test_the_error_check_sees_gradio_error_badges(page):
    """The check the tests below rely on finds the badges of a handler that
    returns too few outputs (the bug those tests guard against)."""
    import gradio as gr

    with gr.Blocks() as broken:
        a, b = gr.Markdown(), gr.Image()
        gr.Button("go", elem_id="go").click(lambda: {}, None, [a, b])
    port = free_port()
    broken.launch(server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/")
        page.goto(f"http://127.0.0.1:{port}/", wait_until="load")
        page.locator("#go").click()
        page.wait_for_selector(ERROR_ELEMENTS, timeout=30_000)
        assert page.locator(ERROR_ELEMENTS).count() >= 1
    finally:
        broken.close()


def test_failures_say_why_and_leave_no_error_badge(page, studio_url, squares_mp4, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIPVIS_CACHE", str(tmp_path / "no-weights"))  # a released model that is not downloaded
    s = StudioPage(page, studio_url).open()
    # No video yet: Run, Cancel, and the viewer's Next/Play (buttons and keys).
    assert "load a video first" in s.click("run", "load a video")
    assert "No run is waiting" in s.click("cancel", "No run")
    for act in ("next", "play", "prev", "last"):
        page.locator(f"{VIEWER} button[data-act={act}]").click()
    s.press("ArrowRight")
    s.press("Space")
    assert page.locator(f"{VIEWER} .cv-status").inner_text() == "Load a video first."
    assert page.locator(f"{VIEWER} .cv-empty").is_visible()
    page.wait_for_timeout(500)
    assert s.errors() == 0

    s.upload(squares_mp4)
    s.load()
    # Run with no classes.
    s.open_ask()
    page.locator("#vocab textarea").fill("")
    assert "type the classes" in s.click("run", "type the classes")
    # A failed run: a model whose weights are not on the server (and downloads are off).
    s.pick("#model", "clipvis_r50_lvis")
    status = s.run("red square")
    assert "No model weights" in status and "clipvis_r50_lvis" in status, status
    assert s.text("#message").startswith("⚠️")
    assert s.errors() == 0
    # The viewer still shows the video.
    s.press("ArrowRight")
    s.wait_painted(1)
    assert s.errors() == 0
    shot(page, "14_failed_run", width=1366)


def test_cancel_a_running_run(page, studio_url, long_mp4):
    s = StudioPage(page, studio_url).open()
    s.upload(long_mp4)
    s.load()
    s.open_ask()
    page.locator("#vocab textarea").fill("red square")
    page.locator("#run").click()
    s.wait_text("#run-status", "frames", timeout=120_000)
    assert s.click("cancel", "Cancelling", "Cancelled").startswith("Cancel")  # the run may end before the answer shows
    assert "Cancelled" in s.wait_text("#run-status", "Cancelled", "Run:", timeout=120_000)
    assert s.rows() == [] and s.errors() == 0
    s.press("End")
    s.wait_painted(39)


def test_a_queued_run_is_visible_and_cancellable(playwright_browser, studio_url, long_mp4, squares_mp4):
    contexts = [playwright_browser.new_context(viewport={"width": 1366, "height": 768}) for _ in range(2)]
    try:
        pa, pb = (c.new_page() for c in contexts)
        for p in (pa, pb):
            p.set_default_timeout(TIMEOUT_MS)
        a, b = StudioPage(pa, studio_url).open(), StudioPage(pb, studio_url).open()
        a.upload(long_mp4)
        a.load()
        b.upload(squares_mp4)
        b.load()
        a.open_ask()
        pa.locator("#vocab textarea").fill("red square")
        pa.locator("#run").click()
        a.wait_text("#run-status", "frames", timeout=120_000)  # A's run works on the model
        b.open_ask()
        pb.locator("#vocab textarea").fill("green square")
        pb.locator("#run").click()
        waiting = b.wait_text("#run-status", "Waiting for the model")
        assert "1 run ahead of yours (place 2 in the queue)" in waiting
        shot(pb, "15_queued_run", width=1366)
        pb.locator("#cancel").click()
        assert "Cancelled before it started" in b.wait_text("#run-status", "Cancelled")
        assert b.message("removed", "Cancelled before it started").startswith(("Your run was waiting", "Cancelled"))
        # A's run goes on and finishes; B's never starts.
        assert "Run:" in a.wait_text("#run-status", "Run:", "failed", timeout=180_000)
        pa.wait_for_function("sel => document.querySelectorAll(sel + ' .cv-row').length > 0", arg=VIEWER)
        pb.wait_for_timeout(1500)
        assert b.rows() == [] and "Cancelled before it started" in b.text("#run-status")
        assert a.errors() == 0 and b.errors() == 0
    finally:
        for c in contexts:
            c.close()
