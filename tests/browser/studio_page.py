"""The studio as a person uses it, in Playwright terms (a page object).

Gradio renders the page with JavaScript and `networkidle` never comes, so
every step waits for `load` and then for what the step should show.
"""
from __future__ import annotations

import json


class StudioPage:
    def __init__(self, page, url: str):
        self.page = page
        self.url = url

    def open(self):
        self.page.goto(self.url, wait_until="load")
        self.page.wait_for_selector("#load")
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

    # ---- load and ask -------------------------------------------------------
    def upload(self, path):
        clear = self.page.locator("#upload button[aria-label='Clear']")
        if clear.count():  # a file is there already: remove it, as a person would
            clear.first.click()
        self.page.locator("#upload input[type=file]").set_input_files(str(path))

    def pick(self, selector: str, option: str):
        """Choose an option of a Gradio dropdown."""
        self.page.locator(f"{selector} input").click()
        self.page.get_by_role("option", name=option).first.click()

    def load(self, expect: str = "Loaded"):
        return self.click("load", expect)

    def run(self, classes: str):
        self.page.locator("#vocab textarea").fill(classes)
        self.page.locator("#run").click()
        return self.wait_text("#run-status", "Run:", "failed", "No model", timeout=180_000)

    # ---- review ---------------------------------------------------------------
    def frame_info(self) -> str:
        return self.text("#frame-info")

    def go_to_frame(self, t: int):
        box = self.page.locator("#frame input[type=number]")
        box.fill(str(t))
        box.press("Enter")
        self.wait_text("#frame-info", f"Frame {t} /")

    def cell(self, row: int, col: int) -> str:
        return self.text(f"#instances [data-testid='cell-{row}-{col}']").strip()

    def select_row(self, row: int) -> int:
        self.page.get_by_role("tab", name="Instances").click()
        track_id = int(self.cell(row, 0))
        self.page.locator(f"#instances [data-testid='cell-{row}-2']").click()
        self.wait_text("#selected-info", f"#{track_id} ")
        return track_id

    # ---- correct ----------------------------------------------------------------
    def click(self, elem_id: str, *expect: str) -> str:
        """Click a button; wait for the message it should give (or a warning, to fail fast)."""
        before = self.text("#message")
        self.page.locator(f"#{elem_id}").click()
        return self.message(*expect, changed_from=before) if expect else ""

    def brush_stroke(self) -> str:
        """Open the brush on the selected mask and paint one stroke."""
        self.page.get_by_text("Brush: edit the selected mask").click()
        opened = self.click("edit-mask", "Editing #")
        # The frame arrives as an image the editor loads after the message: wait for it to be drawn.
        self.page.wait_for_function("() => { const c = document.querySelector('#editor canvas');"
                                    " return c && c.width > 0 && c.height > 0; }")
        self.page.wait_for_timeout(500)
        self.page.locator("#editor button[aria-label='Brush']").click()
        canvas = self.page.locator("#editor canvas").first
        box = canvas.bounding_box()
        x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.4
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        for i in range(1, 15):
            self.page.mouse.move(x + 8 * i, y + 2 * i)
        self.page.mouse.up()
        return opened

    # ---- export --------------------------------------------------------------
    def export_json(self, kind: str = "dataset", expect: str = "Exported"):
        self.click(f"export-{kind}", expect)
        link = self.page.locator("#export-file a").first
        link.wait_for()
        with self.page.expect_download() as info:
            link.click()
        return json.loads(open(info.value.path(), encoding="utf-8").read())
