"""The studio as a person uses it, in Playwright terms (a page object).

Gradio renders the page with JavaScript and `networkidle` never comes, so
every step waits for `load` and then for what the step should show. The
viewer exposes what it shows as data attributes of `#viewer .cv-root`
(frame, painted, selected, zoom, pan, brushFrame), which is what the steps
wait on.
"""
from __future__ import annotations

import json

VIEWER = "#viewer .cv-root"
# Gradio's red "Error" badge on a component, and an error toast.
ERROR_ELEMENTS = "[data-testid='status-tracker'] .error, [data-testid='toast-body'].error, .toast-body.error"


class StudioPage:
    def __init__(self, page, url: str):
        self.page = page
        self.url = url

    def open(self):
        self.page.goto(self.url, wait_until="load")
        self.page.wait_for_selector("#load")
        self.page.wait_for_selector(VIEWER)
        self.wait_text("#message", "")  # the page-load event has answered
        return self

    # ---- waiting ------------------------------------------------------------
    # A Gradio component's own text, without its progress overlay ("0.1s").
    TEXT_JS = ("e => { const c = e.querySelector('[data-testid=markdown], .prose, .run-status') || e;"
               " return c.innerText; }")

    def text(self, selector: str) -> str:
        return self.page.locator(selector).first.evaluate(self.TEXT_JS)

    def wait_text(self, selector: str, *texts: str, timeout: float | None = None, changed_from: str | None = None):
        """Until the element's text holds one of `texts` (any text if ''),
        and differs from `changed_from` if given."""
        self.page.wait_for_function(
            "([sel, texts, old]) => { const e = document.querySelector(sel); if (!e) return false;"
            " const c = e.querySelector('[data-testid=markdown], .prose, .run-status') || e;"
            " const t = c.innerText; if (old !== null && t === old) return false;"
            " return texts.some(x => x === '' ? t.trim().length > 0 : t.includes(x)); }",
            arg=[selector, list(texts), changed_from], timeout=timeout)
        return self.text(selector)

    def message(self, *texts: str, changed_from: str | None = None) -> str:
        """The message once it holds one of `texts`, or a warning (so a test fails fast, saying why)."""
        return self.wait_text("#message", *texts, "⚠️", "Nothing changed", changed_from=changed_from)

    def errors(self) -> int:
        """How many Gradio error elements are on the page."""
        return self.page.locator(ERROR_ELEMENTS).count()

    # ---- the viewer ---------------------------------------------------------------
    def state(self, key: str) -> str:
        return self.page.evaluate("([sel, k]) => document.querySelector(sel).dataset[k] || ''", [VIEWER, key])

    @property
    def frame(self) -> int:
        return int(self.state("frame") or 0)

    @property
    def selected(self) -> int | None:
        s = self.state("selected")
        return int(s) if s else None

    def wait_state(self, key: str, value, timeout: float | None = None):
        self.page.wait_for_function("([sel, k, v]) => (document.querySelector(sel).dataset[k] || '') === v",
                                    arg=[VIEWER, key, "" if value is None else str(value)], timeout=timeout)

    def wait_painted(self, frame: int, timeout: float | None = None):
        """Until frame `frame` is on the screen, with its overlay."""
        self.wait_state("painted", frame, timeout=timeout)

    def api(self, expr: str):
        """Evaluate `expr` with `v` bound to the viewer's API (for what a test reads, not what it does)."""
        return self.page.evaluate(f"() => {{ const v = document.querySelector('{VIEWER}').clipvisViewer; return {expr}; }}")

    def press(self, key: str):
        self.page.keyboard.press(key)

    def canvas_box(self) -> dict:
        return self.page.locator(f"{VIEWER} canvas.cv-canvas").bounding_box()

    def go_to_frame(self, t: int):
        """Drag the frame slider to t, as a person scrubs."""
        self.page.locator(f"{VIEWER} .cv-scrub").fill(str(t))
        self.wait_painted(t)

    def frame_info(self) -> str:
        return self.page.locator(f"{VIEWER} .cv-frame").inner_text()

    def rows(self) -> list[dict]:
        """The track list as the user reads it."""
        return self.page.evaluate(
            "sel => [...document.querySelectorAll(sel + ' .cv-row')].map(r => ({id: Number(r.dataset.track),"
            " name: r.querySelector('.cv-name').textContent, selected: r.classList.contains('cv-sel'),"
            " flag: r.querySelector('.cv-flag').textContent}))", VIEWER)

    def select_row(self, row: int) -> int:
        """Click the row-th track of the list; returns its id once the tools show it."""
        target = self.page.locator(f"{VIEWER} .cv-row").nth(row)
        track_id = int(target.get_attribute("data-track"))
        target.click()
        self.wait_state("selected", track_id)
        self.wait_text("#selected-info", f"#{track_id} ")
        return track_id

    def brush_stroke(self, fx: float = 0.3, fy: float = 0.4):
        """Brush on (b) and one stroke across the frame from (fx, fy) of the canvas."""
        if not self.api("v.brushing"):
            self.press("b")
        box = self.canvas_box()
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        for i in range(1, 15):
            self.page.mouse.move(x + 6 * i, y + 2 * i)
        self.page.mouse.up()
        self.wait_state("brushDirty", "1")

    # ---- load and ask -------------------------------------------------------
    def upload(self, path):
        clear = self.page.locator("#upload button[aria-label='Clear']")
        if clear.count():  # a file is there already: remove it, as a person would
            clear.first.click()
        self.page.locator("#upload input[type=file]").set_input_files(str(path))

    def pick(self, selector: str, option: str):
        """Choose an option of a Gradio dropdown."""
        self.page.locator(f"{selector} input").click()
        self.page.locator(f"{selector} [role=option]").filter(has_text=option).first.click()

    def load(self, expect: str = "Loaded"):
        out = self.click("load", expect)
        if "⚠️" not in out:
            self.wait_painted(0)
        return out

    def open_ask(self):
        if not self.page.locator("#vocab textarea").is_visible():
            self.page.locator("#ask-acc").get_by_text("2 · Ask").click()

    def run(self, classes: str):
        self.open_ask()
        self.page.locator("#vocab textarea").fill(classes)
        self.page.locator("#run").click()
        return self.wait_text("#run-status", "Run:", "failed", "No model", "Cancelled", timeout=180_000)

    def load_clip(self, video, annotations):
        """Upload a video, load it, and import its annotations: a session with tracks, no model needed."""
        self.upload(video)
        self.wait_text("#probe", "×")
        self.load()
        target = self.page.locator("#import-file")
        if not target.is_visible():
            self.page.locator("#import-acc").get_by_text("Import YTVIS JSON onto this video").click()
        target.wait_for(state="visible")
        target.locator("input[type=file]").set_input_files(str(annotations))
        self.page.wait_for_function("n => document.querySelector('#import-file').innerText.includes(n)",
                                    arg=annotations.name)
        out = self.click("import", "Imported")
        self.page.wait_for_function("sel => document.querySelectorAll(sel + ' .cv-row').length > 0", arg=VIEWER)
        return out

    # ---- correct ----------------------------------------------------------------
    def click(self, elem_id: str, *expect: str) -> str:
        """Click a button; wait for the message it should give (or a warning, to fail fast)."""
        before = self.text("#message")
        self.page.locator(f"#{elem_id}").click()
        return self.message(*expect, changed_from=before) if expect else ""

    def key(self, key: str, *expect: str) -> str:
        """Press a shortcut; wait for the message it should give."""
        before = self.text("#message")
        self.press(key)
        return self.message(*expect, changed_from=before) if expect else ""

    # ---- export --------------------------------------------------------------
    def export_json(self, kind: str = "dataset", expect: str = "Exported"):
        self.click(f"export-{kind}", expect)
        link = self.page.locator("#export-file a").first
        link.wait_for()
        with self.page.expect_download() as info:
            link.click()
        return json.loads(open(info.value.path(), encoding="utf-8").read())
