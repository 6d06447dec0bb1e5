"""Two tabs of one browser on one session: each deletes its own selection,
and an edit against a track the other tab changed is refused."""
from __future__ import annotations

from tests.browser.conftest import TIMEOUT_MS, shot
from tests.browser.studio_page import StudioPage


def test_two_tabs_share_the_session_not_the_selection(page, studio_url, squares_mp4):
    a = StudioPage(page, studio_url).open()
    a.upload(squares_mp4)
    a.load()
    assert "Run:" in a.run("red square, green square")
    page_b = page.context.new_page()  # same browser: same id, same sessions
    page_b.set_default_timeout(TIMEOUT_MS)
    b = StudioPage(page_b, studio_url).open()
    assert "Resumed" in b.message("Resumed")  # the page reopens the browser's last session

    first = a.select_row(0)
    second = b.select_row(1)
    assert first != second
    assert f"Delete #{first}" in a.click("delete", "Delete #")
    # B's view predates A's delete, but B's own selection did not change: B deletes its own.
    assert f"Delete #{second}" in b.click("delete", "Delete #")

    # Now both look at one track; B relabels it; A, whose view predates that, tries to delete it.
    page.reload(wait_until="load")  # A's table still lists B's deleted track: draw it afresh
    a.message("Resumed")
    third = a.select_row(0)
    assert b.select_row(0) == third
    page_b.locator("#relabel-text textarea, #relabel-text input").first.fill("renamed in B")
    b.click("relabel", "→ renamed in B")
    refused = a.click("delete", "Delete #", "changed in another tab")
    assert f"#{third} changed in another tab" in refused
    shot(page, "09_stale_edit_refused")
    assert "renamed in B" in a.text("#selected-info")  # A's view now shows what B did
    assert f"Delete #{third}" in a.click("delete", "Delete #")  # made knowingly, it goes through
    page_b.close()
