"""End-to-end fixtures: the studio on a free local port with the tiny random
model, and headless Chromium (Debian's, driven by Playwright's Python package;
`tests/browser/install.sh` installs both). Skipped when either is missing."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CLIPVIS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
# Screenshots go to docs/screenshots/ only when asked for
# (CLIPVIS_SCREENSHOTS=docs/screenshots), so a test run leaves the docs alone.
SCREENSHOTS = os.environ.get("CLIPVIS_SCREENSHOTS")
TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, timeout: float = 60.0):
    import urllib.request
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")


@pytest.fixture(scope="session")
def playwright_browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright (tests/browser/install.sh)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; tests/browser/install.sh)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def model_argv(tiny_checkpoint, tiny_clip_config) -> list[str]:
    return ["--checkpoint", str(tiny_checkpoint), "--clip-config", str(tiny_clip_config), "--device", "cpu",
            "--topk", "6"]


@contextlib.contextmanager
def serve_studio(argv: list[str], setup=None):
    """The studio with these `python app.py` flags, served in this process on a free port; yields its URL.
    setup(studio), if given, runs before the page is built (as app.py's start-up steps do)."""
    from app.config import Studio, StudioConfig, keep_gradio_files_in, parse_args, prepare_workdir
    from app.model_service import ModelService
    from app.ui import build_demo, launch

    port = free_port()
    args = parse_args([*argv, "--port", str(port)])
    if args.workdir:  # tests name fresh folders; app.py itself refuses a missing --workdir
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    prepare_workdir(args)
    config = StudioConfig.from_args(args)
    keep_gradio_files_in(config.workdir)  # as app.py does: uploads and downloads under the work folder
    studio = Studio(config=config, service=ModelService.from_args(args))
    if setup is not None:
        setup(studio)
    demo = build_demo(studio)
    launch(demo, host="127.0.0.1", port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for_http(url)
        yield url
    finally:
        demo.close()


@pytest.fixture(scope="module")
def studio_url(tmp_path_factory, tiny_checkpoint, tiny_clip_config, playwright_browser):
    """The studio served in this process, as the CI recipe launches it."""
    with serve_studio(model_argv(tiny_checkpoint, tiny_clip_config) +
                      ["--workdir", str(tmp_path_factory.mktemp("studio"))]) as url:
        yield url


@pytest.fixture(scope="session")
def squares_mp4(tmp_path_factory):
    """A generated video a person could upload: two squares moving, 160x120, 10 frames."""
    from clipvis.formats.overlay import write_overlay_video
    from tests.conftest import moving_squares_video

    frames = moving_squares_video(num_frames=10, h=120, w=160)
    return write_overlay_video(tmp_path_factory.mktemp("video") / "two squares.mp4", iter(frames), fps=5)


@pytest.fixture
def page(playwright_browser):
    context = playwright_browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    context.close()


def shot(page, name: str, width: int = 1200, full_page: bool = True):
    """Save a screenshot of a main screen (see SCREENSHOTS), scaled down to
    `width` and palette-quantised so the repository stays small. With
    full_page=False: exactly what the window shows."""
    import io
    import tempfile

    from PIL import Image

    from clipvis.atomic import write_bytes

    folder = Path(SCREENSHOTS) if SCREENSHOTS else Path(tempfile.gettempdir()) / "clipvis-studio-screenshots"
    im = Image.open(io.BytesIO(page.screenshot(full_page=full_page))).convert("RGB")
    if im.width > width:
        im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    buf = io.BytesIO()
    im.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", optimize=True)
    write_bytes(folder / f"{name}.png", buf.getvalue())
