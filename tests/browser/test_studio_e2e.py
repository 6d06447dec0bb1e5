"""The studio in a real browser, as a person uses it: load → ask → review →
correct → export. Saves the main screens to docs/screenshots/."""
from __future__ import annotations

import numpy as np

from clipvis.formats.rle import rle_area, rle_to_mask
from tests.browser.conftest import shot
from tests.browser.studio_page import StudioPage


def test_load_ask_review_correct_export(page, studio_url, squares_mp4):
    s = StudioPage(page, studio_url).open()
    s.upload(squares_mp4)
    assert "160×120 · 5 fps · 10 frames" in s.wait_text("#probe", "160×120", "⚠️")
    s.load()
    assert "10 frames (stride 1)" in s.text("#video-info")
    shot(page, "01_loaded")

    status = s.run("red square, green square")
    assert "Run:" in status, status
    n_tracks = int(status.split("Run: ")[1].split(" ")[0])
    assert n_tracks >= 2
    assert len(s.rows()) == n_tracks

    # Scrub: the viewer's buttons and the frame slider.
    page.locator("#viewer button[data-act=next]").click()
    s.wait_painted(1)
    s.go_to_frame(6)
    first = s.select_row(0)
    shot(page, "02_review")

    # Relabel in one click (the top classes beside the list), then by typing.
    page.locator("#viewer .cv-topclass").nth(1).click()
    assert f"Relabel #{first}" in s.message(f"Relabel #{first}")
    page.locator("#relabel-text textarea, #relabel-text input").first.fill("circle")
    assert "→ circle" in s.click("relabel", "→ circle")

    # Merge the second instance into the selected one; undo; redo.
    s.pick("#merge-with", "#")
    merged = s.click("merge", "Merge #")
    other = int(merged.split("Merge #")[1].split(" ")[0])
    assert "Undid: Merge" in s.click("undo", "Undid")
    assert "Redid: Merge" in s.click("redo", "Redid")
    assert other not in [r["id"] for r in s.rows()]
    shot(page, "03_timeline")

    # Take the instance off frames 5-6, then paint it back on frame 6 with the brush.
    page.locator("#range-start input").fill("5")
    page.locator("#range-end input").fill("6")
    assert f"Delete #{first} from frames 5–6" in s.click("delete-range", "Delete #")
    s.brush_stroke()
    assert s.state("brushFrame") == "6"
    shot(page, "04_brush")
    assert f"Paint #{first} on frame 6" in s.key("Enter", "Paint #")
    s.press("b")  # brush off

    shot(page, "05_corrected")
    data = s.export_json("dataset")
    anns = {a["id"]: a for a in data["annotations"]}
    names = {c["id"]: c["name"] for c in data["categories"]}
    assert names[anns[first]["category_id"]] == "circle"
    assert other not in anns and len(anns) == n_tracks - 1  # merged away
    assert anns[first]["segmentations"][5] is None
    assert anns[first]["segmentations"][6] is not None and rle_area(anns[first]["segmentations"][6]) > 0
    assert data["videos"][0]["length"] == 10 and (data["videos"][0]["width"], data["videos"][0]["height"]) == (160, 120)
    results = s.export_json("results")
    assert sorted(r["score"] for r in results) == sorted(a["score"] for a in anns.values())
    shot(page, "06_export")

    # Clicking the painted stroke on the frame selects its instance (the smallest mask under the pointer).
    s.select_row(1)
    ys, xs = np.nonzero(rle_to_mask(anns[first]["segmentations"][6]))
    k = len(xs) // 2
    box = s.canvas_box()
    fit = min(box["width"] / 640, box["height"] / 480)  # the 160x120 video is shown at 640x480
    x0, y0 = box["x"] + (box["width"] - 640 * fit) / 2, box["y"] + (box["height"] - 480 * fit) / 2
    page.mouse.click(x0 + (xs[k] + 0.5) * 4 * fit, y0 + (ys[k] + 0.5) * 4 * fit)
    s.wait_state("selected", first)
    assert s.wait_text("#selected-info", f"#{first} ").startswith(f"#{first} circle")


def test_example_requery_and_threshold(page, studio_url):
    s = StudioPage(page, studio_url).open()
    page.get_by_role("tab", name="Example").click()
    s.pick("#example", "street_bikes.mp4")
    page.locator("input[aria-label='Max frames']").fill("8")
    s.load()
    status = s.run("person, car")
    n_tracks = int(status.split("Run: ")[1].split(" ")[0])
    # New classes only: every model track must change class, at once, without a second pass.
    s.open_ask()  # folded once the run brought tracks
    page.locator("#vocab textarea").fill("taxi, cyclist|bicycle rider")
    out = s.click("requery", "Re-labelled")
    assert "without re-running" in out and f"{n_tracks} model track(s) changed class" in out
    page.wait_for_function("() => [...document.querySelectorAll('#viewer .cv-name')].every("
                           "n => ['taxi', 'cyclist'].includes(n.textContent))")
    shot(page, "07_requery")
    # Low-score queries the engine kept can be promoted.
    page.get_by_text("Recover objects the model dropped").click()
    page.get_by_role("button", name="Show dropped objects").click()
    s.message("low-score query tracks", "already an instance")
    assert s.errors() == 0


def test_upload_of_a_non_video_is_refused_clearly(page, studio_url, tmp_path, squares_mp4):
    bad = tmp_path / "notes.txt"
    bad.write_text("not a video")
    s = StudioPage(page, studio_url).open()
    s.upload(bad)
    assert "not a video" in s.load(expect="⚠️")
    # Nothing was kept, and the page goes on working with a good file.
    s.upload(squares_mp4)
    s.wait_text("#probe", "160×120")
    assert "10 frames (stride 1)" in s.load() + s.text("#video-info")
