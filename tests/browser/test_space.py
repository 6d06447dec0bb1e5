"""The studio as a visitor to a Space meets it: a bundled example that opens
with its tracks without a run, and an upload refused with the limit or
answered with an estimate of the run's time, before anything is decoded."""
from __future__ import annotations

import pytest

from clipvis.formats.overlay import write_overlay_video
from tests.browser.conftest import serve_studio, shot
from tests.browser.studio_page import StudioPage
from tests.conftest import moving_squares_video

EXAMPLE = "pedestrians_vtest.mp4"


def _cache_one_example(studio):
    """As app.py does with --cache-examples start, for one example (the demo model runs it at start)."""
    from app.callbacks.files import EXAMPLES_DIR
    from app.examples import ExampleCache

    studio.examples = ExampleCache(studio.config.workdir, studio.service, "start")
    studio.examples.start(studio, [EXAMPLE], EXAMPLES_DIR, on_gpu=False).join(300)
    assert studio.examples.cached(EXAMPLE) is not None


@pytest.fixture(scope="module")
def space_url(tmp_path_factory, playwright_browser):
    argv = ["--model", "demo", "--min-size", "128", "--max-seconds", "3",
            "--workdir", str(tmp_path_factory.mktemp("space"))]
    with serve_studio(argv, setup=_cache_one_example) as url:
        yield url


def test_a_cached_example_opens_with_tracks_without_a_run(page, space_url):
    s = StudioPage(page, space_url).open()
    page.get_by_role("tab", name="Example").click()
    s.pick("#example", EXAMPLE)
    assert "a run is kept" in s.wait_text("#probe", "a run is kept")
    message = s.load("Opened")
    assert "no run was needed" in message
    rows = s.rows()
    assert rows, "the example opened with no tracks"
    assert s.text("#run-status").strip() == ""  # no run was started
    assert page.locator("#viewer .cv-timeline, #viewer canvas").count() > 0
    shot(page, "space_cached_example")
    # Re-label answers from the kept analysis.
    s.open_ask()
    page.locator("#vocab textarea").fill("walker, van")
    assert "Re-labelled" in s.click("requery", "Re-labelled")
    page.wait_for_function("() => [...document.querySelectorAll('#viewer .cv-name')].every("
                           "n => ['walker', 'van'].includes(n.textContent))")
    assert s.errors() == 0


def test_an_over_long_upload_says_the_limit_and_a_short_one_the_estimate(page, space_url, tmp_path):
    long = write_overlay_video(tmp_path / "long walk.mp4", iter(moving_squares_video(40, h=120, w=160)), fps=10)
    short = write_overlay_video(tmp_path / "short walk.mp4", iter(moving_squares_video(20, h=120, w=160)), fps=10)
    s = StudioPage(page, space_url).open()
    assert "at most 3 s" in s.text("#limits-note")  # said before anything is uploaded
    s.upload(long)
    refused = s.wait_text("#probe", "at most")
    assert "4.0 s long" in refused and "at most 3 s" in refused and "Max frames to 30 or fewer" in refused
    shot(page, "space_limit", full_page=False)
    assert "at most 3 s" in s.load("⚠️")
    s.upload(short)
    estimate = s.wait_text("#probe", "Estimated run time: about")
    assert "20 frames" in estimate
    s.load()
    assert "20 frames" in s.wait_text("#run-estimate", "Estimated run time: about")
    shot(page, "space_estimate", full_page=False)
    assert s.errors() == 0
