"""Click to track in Chromium: click on the frame, see the preview, press
Track, and the new track is in the list and on the timeline with its top
classes; Undo takes it away. SAM 2 is the tiny random model of tests/prompt,
written to a folder and loaded by the studio's own `--sam-model` path; the
CLIP-VIS side is the demo model."""
from __future__ import annotations

import pytest

from tests.browser.conftest import serve_studio, shot
from tests.browser.studio_page import VIEWER, StudioPage
from tests.prompt.tiny_sam import tiny_sam_model, tiny_sam_processor


@pytest.fixture(scope="module")
def click_url(tmp_path_factory, playwright_browser):
    folder = tmp_path_factory.mktemp("sam") / "tiny sam2"
    tiny_sam_model().save_pretrained(folder)
    tiny_sam_processor().save_pretrained(folder)
    with serve_studio(["--model", "demo", "--device", "cpu", "--sam-model", str(folder),
                       "--workdir", str(tmp_path_factory.mktemp("studio"))]) as url:
        yield url


def click_frame(s, x: float, y: float, **kwargs):
    """A click on the frame at display pixel (x, y)."""
    at = s.api(f"v.frameToClient({x}, {y})")
    s.page.mouse.click(at["x"], at["y"], **kwargs)


def test_click_preview_track_and_undo(page, click_url, squares_mp4):
    s = StudioPage(page, click_url).open()
    s.upload(squares_mp4)
    s.load()
    assert "Run:" in s.run("red square, green square, sky, road, tree, person")
    before = {r["id"] for r in s.rows()}
    # Click to track (c), a click on the red square of frame 0 (display 640x480; the video is 160x120).
    s.press("c")
    s.wait_state("clickMode", "1")
    click_frame(s, 60, 80)
    s.wait_state("preview", "0")
    assert s.state("promptError") == ""
    click_frame(s, 300, 200, button="right")  # not the object: the preview is asked again
    page.wait_for_function("sel => document.querySelector(sel + ' .cv-click-title').textContent.includes('2 points')",
                           arg=VIEWER)
    s.wait_state("preview", "0")
    # Track (Enter): a job with progress, then the new track, selected, with its top classes.
    s.press("Enter")
    msg = s.message("Click-track #")
    assert "Top classes:" in msg, msg
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel + ' .cv-row').length > n",
                           arg=[VIEWER, len(before)])
    new = [r for r in s.rows() if r["id"] not in before]
    assert len(new) == 1
    s.wait_state("selected", new[0]["id"])
    in_view = page.evaluate(
        "([sel, id]) => { const l = document.querySelector(sel + ' .cv-list').getBoundingClientRect();"
        " const r = document.querySelector(sel + ` .cv-row[data-track='${id}']`).getBoundingClientRect();"
        " return r.top >= l.top - 1 && r.bottom <= l.bottom + 1; }", [VIEWER, new[0]["id"]])
    assert in_view  # the list scrolled to the new track (the last of 21)
    doc_row = s.api(f"v.doc.tracks.find(t => t.id === {new[0]['id']})")
    assert doc_row["origin"] == "clicked" and doc_row["runs"] == [[0, 9]]  # on the timeline: every frame
    assert len(doc_row["top"]) == 5 and doc_row["top"][0][0] == new[0]["name"]
    top = page.locator(f"{VIEWER} .cv-top-rows .cv-topclass")
    assert top.count() == 5
    assert "top classes by CLIP" in page.locator(f"{VIEWER} .cv-top-head").inner_text()
    assert s.errors() == 0
    s.press("Escape")  # leave click mode
    s.wait_state("clickMode", "")
    # Undo (Ctrl+Z): the track is gone; nothing else changed.
    s.key("Control+z", "Undid")
    page.wait_for_function("([sel, n]) => document.querySelectorAll(sel + ' .cv-row').length === n",
                           arg=[VIEWER, len(before)])
    assert {r["id"] for r in s.rows()} == before
    assert s.errors() == 0


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """24 frames of 320x240 with three annotated objects of five classes (no model run needed)."""
    from bench.viewer_clip import make_clip
    return make_clip(tmp_path_factory.mktemp("clip"), frames=24, width=320, height=240, tracks=3, fps=10,
                     name="three objects")


def test_click_without_a_run_and_a_correction_on_a_later_frame(page, click_url, clip):
    """No run: the clicked track is classified against the imported classes. Then
    a correction on frame 12 replaces the track's masks from there on only."""
    s = StudioPage(page, click_url).open()
    s.load_clip(*clip)
    before = {r["id"] for r in s.rows()}
    s.press("c")
    page.locator(f"{VIEWER} .cv-clickbar").wait_for(state="visible")
    # A box (drag) around a region of frame 0, then Track with the button.
    a, b = s.api("v.frameToClient(200, 150)"), s.api("v.frameToClient(420, 330)")
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move((a["x"] + b["x"]) / 2, (a["y"] + b["y"]) / 2)
    page.mouse.move(b["x"], b["y"])
    page.mouse.up()
    s.wait_state("preview", "0")
    page.wait_for_timeout(300)
    shot(page, "studio-click-preview", full_page=False)
    page.locator(f"{VIEWER} button[data-act=click-track]").click()
    msg = s.message("Click-track #")
    assert "Top classes:" in msg and "(frames 0–23)" in msg, msg
    new = max(r["id"] for r in s.rows())
    assert new not in before
    s.wait_state("selected", new)
    assert page.locator(f"{VIEWER} .cv-status").inner_text() == ""  # "Tracking…" is gone
    page.wait_for_timeout(300)
    shot(page, "studio-click-tracked", full_page=False)
    # A correction on frame 12: the clicked track is selected, so the click replaces it from there on.
    s.go_to_frame(12)
    assert page.locator(f"{VIEWER} .cv-replace-box").is_checked()
    assert f"replace #{new}" in page.locator(f"{VIEWER} .cv-replace-text").inner_text()
    click_frame(s, 300, 240)
    s.wait_state("preview", "12")
    page.wait_for_timeout(300)
    shot(page, "studio-click-correction", full_page=False)
    s.press("Enter")
    msg = s.message("again from frame 12")
    doc_row = s.api(f"v.doc.tracks.find(t => t.id === {new})")
    assert doc_row["runs"] == [[0, 23]] and doc_row["origin"] == "clicked"
    assert len(s.rows()) == len(before) + 1
    assert "3 undo" in s.text("#history") and s.errors() == 0  # the import, the track, the correction


def test_without_sam_weights_a_click_says_what_to_do_and_the_rest_works(page, studio_url, squares_mp4):
    """The usual test studio names no --sam-model: the default Hub repository, which is not in the cache
    (and downloads are off in the tests)."""
    s = StudioPage(page, studio_url).open()
    s.upload(squares_mp4)
    s.load()
    s.press("c")
    s.wait_state("clickMode", "1")
    click_frame(s, 60, 80)
    page.wait_for_function("sel => (document.querySelector(sel).dataset.promptError || '').length > 0", arg=VIEWER)
    said = s.state("promptError")
    for words in ("SAM 2", "facebook/sam2.1-hiera-tiny", "hf download", "--sam-model"):
        assert words in said, said
    assert "/" + "root" not in said and "/tmp" not in said  # no server path
    assert s.state("preview") == ""
    page.wait_for_timeout(300)
    shot(page, "studio-click-no-sam", full_page=False)
    s.press("Escape")  # clears the prompt
    s.press("Escape")  # leaves click mode
    s.wait_state("clickMode", "")
    assert "Run:" in s.run("red square, green square")  # the rest of the studio works
    assert s.errors() == 0
