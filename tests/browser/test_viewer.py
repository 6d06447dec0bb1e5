"""The viewer in Chromium: every shortcut, the timeline, zoom and pan, the
brush following the frame, and names shown exactly as typed. The session is
made without a model: a generated clip and its YTVIS annotations, imported."""
from __future__ import annotations

import pytest

from bench.viewer_clip import make_clip
from clipvis.formats.rle import rle_to_mask
from tests.browser.conftest import shot
from tests.browser.studio_page import VIEWER, StudioPage

FRAMES = 40


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """40 frames of 320x240 (shown at 640x480), 6 tracks with top classes."""
    return make_clip(tmp_path_factory.mktemp("clip"), frames=FRAMES, width=320, height=240, tracks=6, fps=20,
                     name="six tracks")


@pytest.fixture
def studio(page, studio_url, clip):
    s = StudioPage(page, studio_url).open()
    s.load_clip(*clip)
    return s


def on_frame(s) -> list[int]:
    """The tracks the viewer lists as present on the frame shown, in Tab order."""
    return s.api("(() => { const ids = []; for (const r of document.querySelectorAll('" + VIEWER + " .cv-row.cv-here'))"
                 " ids.push(Number(r.dataset.track)); return ids; })()")


def test_every_shortcut(studio):
    s, page = studio, studio.page
    assert s.errors() == 0
    # Frames: arrows, Shift+arrows, Home/End.
    s.press("ArrowRight")
    s.wait_painted(1)
    s.press("Shift+ArrowRight")
    s.wait_painted(11)
    s.press("ArrowLeft")
    s.wait_painted(10)
    s.press("Shift+ArrowLeft")
    s.wait_painted(0)
    s.press("End")
    s.wait_painted(FRAMES - 1)
    s.press("Home")
    s.wait_painted(0)
    assert s.frame_info().startswith("Frame 0 / 39")
    # Space plays (from the start) and pauses.
    s.press("Space")
    page.wait_for_function(f"() => Number(document.querySelector('{VIEWER}').dataset.painted) >= 5")
    s.press("Space")
    assert not s.api("v.playing")
    stopped = s.frame
    page.wait_for_timeout(300)
    assert s.frame == stopped >= 5
    s.press("Home")
    s.wait_painted(0)

    # Tab / Shift+Tab: the instances on this frame, in order, wrapping around.
    here = on_frame(s)
    assert len(here) >= 2
    s.press("Tab")
    s.wait_state("selected", here[0])
    s.press("Tab")
    s.wait_state("selected", here[1])
    s.press("Shift+Tab")
    s.press("Shift+Tab")
    s.wait_state("selected", here[-1])
    s.press("Tab")
    s.wait_state("selected", here[0])
    first = here[0]
    s.wait_text("#selected-info", f"#{first} ")

    # 1-5: relabel to the k-th top class (the list beside the frame shows them, numbered).
    tops = page.locator(f"{VIEWER} .cv-topclass .cv-top-name").all_inner_texts()
    assert len(tops) >= 2
    out = s.key("2", "Relabel")
    assert f"Relabel #{first}" in out and out.endswith(f"→ {tops[1]}. Saved; Undo (Ctrl+Z) reverts it.")
    # h hides and shows (the hidden track stays drawn while selected, marked in the list).
    assert f"Hide #{first}" in s.key("h", "Hide #")
    page.wait_for_function(f"() => document.querySelector('{VIEWER} .cv-row.cv-sel .cv-flag').textContent === 'hidden'")
    assert f"Show #{first}" in s.key("h", "Show #")
    # s splits here.
    s.go_to_frame(20)
    assert f"Split #{first} at frame 20" in s.key("s", "Split #")
    # Ctrl+Z undoes, Ctrl+Shift+Z redoes.
    assert "Undid: Split" in s.key("Control+z", "Undid")
    assert "Redid: Split" in s.key("Control+Shift+z", "Redid")
    # m: with nothing picked it opens the merge picker; once picked, it merges.
    s.press("m")
    option = page.locator("#merge-with [role=option]").first
    option.wait_for()
    other = int(option.inner_text().split()[0].lstrip("#"))
    option.click()
    page.locator(f"{VIEWER} .cv-stage").focus()
    assert f"Merge #{other} into #{first}" in s.key("m", "Merge #")
    # Delete and Backspace delete the selected track.
    assert f"Delete #{first}" in s.key("Delete", "Delete #")
    s.wait_state("selected", None)  # gone: nothing selected any more
    s.press("Tab")
    page.wait_for_function(f"() => document.querySelector('{VIEWER}').dataset.selected !== ''")
    second = s.selected
    assert f"Delete #{second}" in s.key("Backspace", "Delete #")
    assert {first, second}.isdisjoint(r["id"] for r in s.rows())

    # ? shows every shortcut; Esc closes it.
    s.press("?")
    help_box = page.locator(".cv-help")
    help_box.wait_for(state="visible")
    assert "Ctrl + Shift + Z" in help_box.inner_text() and "Tab / Shift + Tab" in help_box.inner_text()
    shot(page, "10_shortcuts_help", width=1366, full_page=False)
    s.press("Escape")
    help_box.wait_for(state="hidden")
    # Zoom keys.
    s.press("+")
    page.wait_for_function(f"() => Number(document.querySelector('{VIEWER}').dataset.zoom) > 1.2")
    s.press("0")
    s.wait_state("zoom", "1.000")
    assert s.errors() == 0


def test_no_shortcut_fires_while_typing(studio):
    s, page = studio, studio.page
    s.select_row(0)
    before = {"frame": s.frame, "selected": s.selected, "rows": s.rows(), "message": s.text("#message")}
    box = page.locator("#relabel-text textarea, #relabel-text input").first
    box.click()
    box.fill("")
    page.wait_for_function("() => document.activeElement && document.activeElement.closest('#relabel-text')")
    for key in ["h", "s", "m", "1", "b", "?", "Space", "ArrowRight", "Shift+ArrowRight", "Backspace", "Delete",
                "Tab"]:
        box.press(key)
        page.wait_for_timeout(60)  # a person's pace
    page.wait_for_timeout(600)
    assert s.frame == before["frame"] and s.selected == before["selected"]
    assert s.rows() == before["rows"] and s.text("#message") == before["message"]
    assert not page.locator(".cv-help").is_visible() and not s.api("v.brushing")
    # The keys went where the user typed (Backspace took the space; Tab moved the focus on).
    assert box.input_value() == "hsm1b?"
    num = page.locator("#copy-n input")
    num.click()
    num.press("Delete")
    num.press("ArrowRight")
    s.open_ask()
    page.locator("#vocab textarea").press("h")
    page.wait_for_timeout(300)
    assert s.frame == before["frame"] and s.rows() == before["rows"]


def test_timeline_click_seeks_and_selects(studio):
    s, page = studio, studio.page
    rows = s.rows()
    box = page.locator(f"{VIEWER} canvas.cv-rows").bounding_box()
    label_w, row_h = 96, 16
    k = 2  # the third row, at frame 30
    x = box["x"] + label_w + (30 + 0.5) / FRAMES * (box["width"] - label_w)
    y = box["y"] + k * row_h + row_h / 2
    page.mouse.click(x, y)
    s.wait_painted(30)
    s.wait_state("selected", rows[k]["id"])
    s.wait_text("#selected-info", f"#{rows[k]['id']} ")
    # The current frame is marked: the ruler and rows are redrawn with it (a red line at frame 30).
    color = page.evaluate(
        "([sel, x]) => { const c = document.querySelector(sel + ' canvas.cv-ruler'); const r = c.getBoundingClientRect();"
        " const d = c.getContext('2d').getImageData(Math.round((x - r.left) * devicePixelRatio), 2, 1, 1).data;"
        " return [d[0], d[1], d[2]]; }", [VIEWER, x])
    assert color[0] > 200 and color[1] < 80
    # The ruler seeks without changing the selection.
    ruler = page.locator(f"{VIEWER} canvas.cv-ruler").bounding_box()
    page.mouse.click(ruler["x"] + label_w + (5 + 0.5) / FRAMES * (ruler["width"] - label_w), ruler["y"] + 8)
    s.wait_painted(5)
    assert s.selected == rows[k]["id"]


def test_zoom_and_pan_in_the_viewer_and_the_brush(studio):
    s, page = studio, studio.page
    box = s.canvas_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => Number(document.querySelector('{VIEWER}').dataset.zoom) > 1.5")
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx + 80, cy + 40, steps=6)
    page.mouse.up()
    pan = [int(v) for v in s.state("pan").split(",")]
    assert pan[0] >= 70 and pan[1] >= 30
    assert s.selected is None  # a drag pans; it is not a click
    shot(page, "11_zoomed", width=1366)
    page.locator(f"{VIEWER} button[data-act=fit]").click()
    s.wait_state("zoom", "1.000")
    assert s.state("pan") == "0,0"
    # In the brush the wheel zooms as well and the right button pans; the left one paints.
    s.select_row(0)
    s.press("b")
    page.mouse.move(cx, cy)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => Number(document.querySelector('{VIEWER}').dataset.zoom) > 1.5")
    page.mouse.down(button="right")
    page.mouse.move(cx - 60, cy - 30, steps=6)
    page.mouse.up(button="right")
    pan = [int(v) for v in s.state("pan").split(",")]
    assert pan[0] <= -50 and pan[1] <= -20
    assert s.state("brushDirty") == ""  # panning painted nothing


def test_the_brush_follows_the_frame(studio):
    s, page = studio, studio.page
    track = s.select_row(0)
    s.go_to_frame(4)
    s.brush_stroke(0.1, 0.85)
    assert s.state("brushFrame") == "4"
    shot(page, "12_brush", width=1366)
    # Moving on applies the strokes to the frame they were painted on, then edits the new frame.
    s.press("ArrowRight")
    assert f"Paint #{track} on frame 4" in s.message("Paint #")
    s.wait_painted(5)
    s.wait_state("brushFrame", 5)
    s.brush_stroke(0.1, 0.85)
    before = s.text("#message")
    s.press("Enter")
    assert f"Paint #{track} on frame 5" in s.message("Paint #", changed_from=before)
    # Both frames got the stroke at the bottom left; frame 6 did not.
    data = s.export_json("dataset")
    ann = next(a for a in data["annotations"] if a["id"] == track)
    for t, painted in ((4, True), (5, True), (6, False)):
        seg = ann["segmentations"][t]
        m = rle_to_mask(seg) if seg else None
        hit = m is not None and m[int(0.85 * 240) - 4:int(0.85 * 240) + 8, int(0.1 * 320):int(0.1 * 320) + 20].any()
        assert hit == painted, (t, painted)


def test_a_name_with_html_shows_literally(studio):
    s, page = studio, studio.page
    name = "<b>x</b> <img src=y onerror=window.__pwned=1> *y* ${1+1} `z`"
    track = s.select_row(0)
    page.locator("#relabel-text textarea, #relabel-text input").first.fill(name)
    msg = s.click("relabel", "Relabel")
    assert msg.endswith(f"→ {name}. Saved; Undo (Ctrl+Z) reverts it.")
    s.wait_text("#selected-info", name)
    assert s.text("#selected-info").startswith(f"#{track} {name} ·")
    page.wait_for_function("([sel, id, n]) => [...document.querySelectorAll(sel + ' .cv-row')]"
                           ".some(r => r.dataset.track === String(id) && r.querySelector('.cv-name').textContent === n)",
                           arg=[VIEWER, track, name])
    # The merge picker of another track lists it literally.
    s.select_row(1)
    page.locator("#merge-with input").click()
    assert page.locator("#merge-with [role=option]").get_by_text(f"#{track} {name} ·").count() == 1
    page.keyboard.press("Escape")
    # The timeline's tooltip, drawn from the same data.
    box = page.locator(f"{VIEWER} canvas.cv-rows").bounding_box()
    page.mouse.move(box["x"] + 40, box["y"] + 8)
    tip = page.locator(f"{VIEWER} .cv-tip")
    tip.wait_for(state="visible")
    assert tip.inner_text().startswith(f"#{track} {name} · score")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#message b, #selected-info b, #viewer b, #message img, #viewer img").count() == 0
    shot(page, "13_literal_names", width=1366)


@pytest.mark.parametrize("width, height", [(1366, 768), (1920, 1080)])
def test_screens_at_laptop_and_desktop_sizes(playwright_browser, studio_url, tmp_path_factory, width, height):
    """The review screen as a person sees it (saved under docs/screenshots with CLIPVIS_SCREENSHOTS):
    the whole frame, the track list beside it, the timeline under it and the tools in one window."""
    video, annotations = make_clip(tmp_path_factory.mktemp("clip640"), frames=90, width=640, height=480, tracks=20,
                                   fps=30, name="street clip")
    context = playwright_browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        s = StudioPage(page, studio_url).open()
        s.load_clip(video, annotations)
        page.evaluate("() => window.scrollTo(0, 0)")  # importing took the page down to Export
        s.go_to_frame(42)
        track = s.select_row(5)
        page.mouse.move(0, 0)
        page.wait_for_timeout(300)
        # In one window, without scrolling: the frame, its timeline, the list and the tools.
        for sel in (f"{VIEWER} .cv-stage", f"{VIEWER} .cv-ruler", f"{VIEWER} .cv-row.cv-sel", "#delete", "#undo"):
            box = page.locator(sel).first.bounding_box()
            assert box and box["y"] >= 0 and box["y"] + min(box["height"], 20) <= height, sel
        stage = page.locator(f"{VIEWER} .cv-stage").bounding_box()
        assert stage["width"] * stage["height"] > 0.25 * width * height * 0.6  # the largest thing on the page
        shot(page, f"review_{width}x{height}", width=width, full_page=False)
        s.press("b")
        s.brush_stroke(0.55, 0.6)
        shot(page, f"brush_{width}x{height}", width=width, full_page=False)
        s.press("Escape")
        s.press("b")
        assert s.selected == track
    finally:
        context.close()


def test_a_typed_threshold_applies_at_once_and_a_hidden_selection_stays_drawn(studio):
    s, page = studio, studio.page
    s.wait_painted(0)
    s.press("Tab")  # the first track on this frame
    page.wait_for_function(f"() => document.querySelector('{VIEWER}').dataset.selected !== ''")
    track = s.selected
    label = lambda: [t for t in s.api("v.stats().labels") if t.startswith(f"#{track} ")]  # noqa: E731
    page.wait_for_function(f"() => document.querySelector('{VIEWER}').clipvisViewer.stats().labels"
                           f".some(t => t.startsWith('#{track} '))")
    # Typed into the number box: applied while the box still has the focus (no Enter, no blur).
    box = page.locator("#threshold input[type=number]")
    box.click()
    box.fill("0.99")  # above every score
    assert "Score threshold 0.99" in s.message("Score threshold")
    assert page.evaluate("() => document.activeElement.closest('#threshold') !== null")
    page.wait_for_function(f"() => [...document.querySelectorAll('{VIEWER} .cv-row.cv-dim')].length === 6")
    # The selected track is under the threshold: still drawn, and labelled as such.
    page.wait_for_function(f"() => document.querySelector('{VIEWER}').clipvisViewer.stats().labels"
                           f".some(t => t.startsWith('#{track} ') && t.endsWith('(under threshold)'))")
    box.fill("0")
    s.message("Score threshold 0.00")
    # Hidden while selected: drawn hatched and labelled "(hidden)"; shown again with h.
    page.locator(f"{VIEWER} .cv-stage").focus()
    s.key("h", "Hide #")
    page.wait_for_function(f"() => document.querySelector('{VIEWER}').clipvisViewer.stats().labels"
                           f".some(t => t.startsWith('#{track} ') && t.endsWith('(hidden)'))")
    assert s.text("#hide") == "Show (h)" and "hidden" in s.text("#selected-info")
    s.key("h", "Show #")
    page.wait_for_function(f"() => document.querySelector('{VIEWER}').clipvisViewer.stats().labels"
                           f".some(t => t.startsWith('#{track} ') && !t.includes('('))")
    assert label() and s.errors() == 0
