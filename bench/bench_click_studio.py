"""Click to track through the studio: from the viewer's POST to the preview PNG.

    python bench/bench_click_studio.py                # SAM 2.1 Hiera-Tiny size, random weights, 854x480
    python bench/bench_click_studio.py --frames 30 --device cuda

What the browser waits for after a click, measured at the HTTP route
(app/clicks/routes.py, through FastAPI's test client: the studio's own code
path, without the browser's network and paint): the first click on a frame
(SAM 2's image encoder runs), refining clicks on the same frame (the decoder
only), and a box. The session is a real one (an mp4 generated here, loaded
into a work folder, display frames cached); the tracker is bench_prompt's
random SAM 2.1 at its real size, put in place of the Hub download. A click
on a frame the viewer showed a moment before in click mode finds it encoded
(the viewer's `prepare` request), so it costs what a refining click costs. Then one
Track of the clicked object over the clip (the job in the runs' queue:
propagation, full-size RLE, one committed edit), seconds per frame.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import types
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.bench_prompt import random_tracker  # noqa: E402
from bench.common import median, synthetic_video  # noqa: E402


def studio_with_session(folder: Path, frames: int, h: int, w: int, tracker):
    from clipvis.formats.overlay import write_overlay_video

    from app.config import Studio, StudioConfig, parse_args
    from app.session import Session

    video = write_overlay_video(folder / "clip.mp4", iter(synthetic_video(frames, h, w)), fps=25)
    studio = Studio(config=StudioConfig.from_args(parse_args(["--workdir", str(folder / "work")])), service=None)
    studio.prompts.sam._tracker = tracker  # the random model instead of the Hub's weights
    session = Session.create(folder / "work", "b" * 32, [video], "clip.mp4")
    return studio, session


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=30, help="at least 16 (the clicks use frames 0-14)")
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=854)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from app.callbacks import clicks
    from app.clicks.routes import prompt_routes
    from tests.app.conftest import tab

    tracker = random_tracker("tiny", args.device, args.precision)
    with tempfile.TemporaryDirectory() as tmp:
        studio, session = studio_with_session(Path(tmp), args.frames, args.height, args.width, tracker)
        token = studio.viewer.token(session)
        client = TestClient(FastAPI(routes=prompt_routes(studio.viewer, studio.prompts)))
        from app.viewer.document import snapshot
        dw, dh = snapshot(session).geo.display_wh
        sx, sy = dw / args.width, dh / args.height
        cx, cy = 180 * sx, 160 * sy  # on the red rectangle of bench/common.py's video

        def post(frame, points, box=None, click="bench"):
            t0 = time.perf_counter()
            r = client.post(f"/clipvis/v/{token}/prompt", json={"click": click, "frame": frame, "points": points,
                                                                  "box": box})
            assert r.status_code == 200, r.text
            return time.perf_counter() - t0

        post(0, [[cx, cy, 1]], click="warm-up")
        first = [post(f, [[cx, cy, 1]], click=f"first-{f}") for f in (2, 4, 6, 8, 10)]
        pts = [[cx, cy, 1], [cx + 40 * sx, cy + 20 * sy, 1], [cx - 60 * sx, cy + 50 * sy, 0],
               [cx + 10 * sx, cy + 80 * sy, 1], [cx + 90 * sx, cy - 10 * sy, 0]]
        prepared = []
        for f in (1, 3, 5, 7):  # the viewer asks for `prepare` when a frame is shown in click mode
            client.post(f"/clipvis/v/{token}/prompt/prepare", json={"click": f"prep-{f}", "frame": f})
            prepared.append(post(f, [[cx, cy, 1]], click=f"prep-{f}"))
        refine = [post(12, pts[:n], click="refine") for n in range(1, 6)]
        box = [post(14, [], box=[100 * sx, 100 * sy, 300 * sx, 240 * sy], click="box")]
        evt = types.SimpleNamespace(_data={"click": "refine"})
        t0 = time.perf_counter()
        last = list(clicks.track(studio, tab(session, frame=12), {"frame": 12}, None, "", evt))[-1]
        track_s = time.perf_counter() - t0
        # Random weights often judge the object absent: then nothing is saved, but every frame was tracked.
        assert "Click-track" in last["message"] or "found the object on no frame" in last["message"], last["message"]
        kept = "saved" if "Click-track" in last["message"] else "object judged absent: nothing saved"
    print(f"studio click to preview, {args.width}x{args.height} video shown at {dw}x{dh}, {tracker.name}, "
          f"{args.device}, precision {tracker.precision}, {args.threads} threads")
    print("| measure | n | median | max |")
    print("|---|---|---|---|")
    for name, xs in [("first click on a frame (image encoder + decoder)", first[1:]),
                     ("first click on a frame shown a moment before (prepared)", prepared),
                     ("refining click on the same frame (1-5 points)", refine[1:]), ("a box on a new frame", box)]:
        print(f"| {name} | {len(xs)} | {median(xs):.2f} s | {max(xs):.2f} s |")
    print(f"| Track over {args.frames} frames (propagate both ways, RLE, commit) | 1 | {track_s:.1f} s "
          f"({track_s / args.frames:.2f} s/frame; {kept}) | |")


if __name__ == "__main__":
    main()
