"""The studio's viewer in Chromium: frame step, playback and selection, as a person sees them.

    python bench/bench_viewer.py [--frames 450] [--size 640x480] [--tracks 20] [--fps 30] [--json]

Starts `python app.py` on a free port (no model: the tracks are imported),
makes a clip of moving shapes with one YTVIS track per shape (noisy edges,
overlaps), loads it in headless Chromium at 1366x768 and measures, with the
browser's own clock:

- frame step: → pressed (keydown) until the new frame is painted with its
  overlay. "paced": one step every 250 ms through frames never shown before,
  as a person steps; "jump": the slider dragged to a frame far from any
  shown (nothing prefetched: one fetch of the JPEG and the overlay).
- playback: Space from a frame never shown; frames painted per second over
  the run, against the clip's own fps (every frame is shown; none skipped).
- select: a click on a row of the track list until the row is highlighted
  and the top classes are drawn (the next animation frame after they
  changed); and until the tools beside it (selection line, merge picker)
  came back from the server.

Prints a markdown table (or one JSON object with --json). Figures on a
shared machine are noisy: compare medians from one run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.viewer_clip import make_clip  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, wait_for_http  # noqa: E402
from tests.browser.studio_page import VIEWER, StudioPage  # noqa: E402

# In-page instruments: the time of the last keydown / pointerdown / input, before the studio sees it.
INSTRUMENT = """() => {
  window.__bench = {};
  for (const kind of ['keydown', 'pointerdown', 'input'])
    window.addEventListener(kind, () => { window.__bench[kind] = performance.now(); }, true);
}"""
PAINT_OF = ("t => { const ps = document.querySelector('%s').clipvisViewer.stats().paints;"
            " for (let i = ps.length - 1; i >= 0; i--) if (ps[i].t === t) return ps[i].at; return null; }" % VIEWER)


def q(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p * (len(values) - 1))))]


def summary(ms: list[float]) -> dict:
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "p90_ms": round(q(ms, 0.9), 1),
            "max_ms": round(max(ms), 1)}


def step_paced(s, page, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        target = s.frame + 1
        page.wait_for_timeout(250)
        s.press("ArrowRight")
        s.wait_painted(target)
        out.append(page.evaluate(PAINT_OF, target) - page.evaluate("() => window.__bench.keydown"))
    return out


def step_jump(s, page, targets: list[int]) -> list[float]:
    out = []
    for t in targets:
        page.wait_for_timeout(250)
        page.locator(f"{VIEWER} .cv-scrub").fill(str(t))
        s.wait_painted(t)
        out.append(page.evaluate(PAINT_OF, t) - page.evaluate("() => window.__bench.input"))
    return out


def playback(s, page, start: int, seconds: float) -> dict:
    s.go_to_frame(start)
    page.wait_for_timeout(300)
    t0 = page.evaluate("() => performance.now()")
    s.press("Space")
    page.wait_for_timeout(int(seconds * 1000))
    s.press("Space")
    paints = page.evaluate("t0 => document.querySelector('%s').clipvisViewer.stats().paints"
                           ".filter(p => p.at > t0)" % VIEWER, t0)
    frames = [p["t"] for p in paints]
    assert frames == list(range(frames[0], frames[0] + len(frames))), "playback skipped or repeated a frame"
    span = (paints[-1]["at"] - paints[0]["at"]) / 1000
    gaps = [b["at"] - a["at"] for a, b in zip(paints, paints[1:])]
    return {"frames": len(paints), "seconds": round(span, 2), "fps": round((len(paints) - 1) / span, 1),
            "median_gap_ms": round(statistics.median(gaps), 1), "p90_gap_ms": round(q(gaps, 0.9), 1)}


def select(s, page, rounds: int) -> tuple[list[float], list[float]]:
    shown, tools = [], []
    ids = [r["id"] for r in s.rows()]
    for k in range(rounds):
        track = ids[(k * 7) % len(ids)]
        if s.selected == track:
            track = ids[(k * 7 + 1) % len(ids)]
        page.wait_for_timeout(250)
        page.evaluate(
            "([sel, id]) => { window.__bench.selected = null; const root = document.querySelector(sel);"
            " const obs = new MutationObserver(() => {"
            "   const row = root.querySelector('.cv-row.cv-sel'); const top = root.querySelector('.cv-top-head');"
            "   if (row && row.dataset.track === String(id) && top.textContent.startsWith('#' + id + ':')) {"
            "     obs.disconnect(); requestAnimationFrame(() => { window.__bench.selected = performance.now(); }); } });"
            " obs.observe(root, {subtree: true, attributes: true, childList: true, characterData: true}); }",
            [VIEWER, track])
        page.locator(f"{VIEWER} .cv-row[data-track='{track}']").click()
        page.wait_for_function("() => window.__bench.selected !== null")
        s.wait_text("#selected-info", f"#{track} ")
        done = page.evaluate("() => performance.now()")
        clicked = page.evaluate("() => window.__bench.pointerdown")
        shown.append(page.evaluate("() => window.__bench.selected") - clicked)
        tools.append(done - clicked)
    return shown, tools


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=450)
    p.add_argument("--size", default="640x480")
    p.add_argument("--tracks", type=int, default=20)
    p.add_argument("--fps", type=float, default=30)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--play-seconds", type=float, default=6)
    p.add_argument("--selects", type=int, default=20)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video, annotations = make_clip(tmp / "clip", frames=args.frames, width=w, height=h, tracks=args.tracks,
                                       fps=args.fps, name="bench clip")
        port = free_port()
        (tmp / "work").mkdir()  # a --workdir given must exist
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        server = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--workdir", str(tmp / "work")],
                                  cwd=REPO, env=env, stdout=open(tmp / "server.log", "wb"), stderr=subprocess.STDOUT)
        try:
            try:
                wait_for_http(f"http://127.0.0.1:{port}/", timeout=120)
            except TimeoutError:
                sys.exit(f"app.py did not start:\n{(tmp / 'server.log').read_text()[-3000:]}")
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.set_default_timeout(60_000)
                s = StudioPage(page, f"http://127.0.0.1:{port}/").open()
                s.load_clip(video, annotations)
                page.evaluate(INSTRUMENT)
                page.wait_for_timeout(1000)
                paced = step_paced(s, page, args.steps)
                played = playback(s, page, args.steps + 10, args.play_seconds)
                # Jumps land beyond everything shown or prefetched so far, 17 frames apart
                # (more than the 8 ahead and 4 behind a step prefetches).
                start = s.frame + 40
                jumps = step_jump(s, page, [t for t in range(start, args.frames - 1, 17)][:10])
                shown, tools = select(s, page, args.selects)
                browser.close()
        finally:
            server.kill()
            server.wait()
    result = {"clip": {"frames": args.frames, "size": f"{w}x{h}", "tracks": args.tracks, "fps": args.fps},
              "step_paced": summary(paced), "step_jump": summary(jumps), "playback": played,
              "select_shown": summary(shown), "select_tools": summary(tools),
              "machine": f"{os.cpu_count()} CPUs", "when": time.strftime("%Y-%m-%d %H:%M")}
    if args.json:
        print(json.dumps(result))
        return
    print(f"Viewer in Chromium 1366x768: {args.frames} frames of {w}x{h} at {args.fps:g} fps, {args.tracks} tracks "
          f"({result['machine']}, {result['when']})\n")
    print("| measure | n | median | p90 | max | target |\n|---|---|---|---|---|---|")
    for key, label, target in [("step_paced", "frame step (→, one every 250 ms, unseen frames)", "≤ 150 ms"),
                               ("step_jump", "frame step (slider to a far, unseen frame)", ""),
                               ("select_shown", "select a track: row and top classes shown", "≤ 300 ms"),
                               ("select_tools", "select a track: tools from the server", "")]:
        r = result[key]
        print(f"| {label} | {r['n']} | {r['median_ms']} ms | {r['p90_ms']} ms | {r['max_ms']} ms | {target} |")
    pl = result["playback"]
    print(f"| playback: displayed fps ({pl['frames']} frames in {pl['seconds']} s; median gap {pl['median_gap_ms']} ms, "
          f"p90 {pl['p90_gap_ms']} ms) | {pl['frames']} | {pl['fps']} fps | | | ≥ 20 fps |")


if __name__ == "__main__":
    main()
