"""Studio edits on the server side, at 455 and 4,550 frames: the SQLite store (issue 11).

    python bench/bench_edits.py --frames 455 4550 --json

For each length it builds a session the way the studio does (a folder of
640x480 frames uploaded, decoded and cached), with 20 tracks of noisy masks
on every frame (each an ellipse with 5% of its box's pixels flipped: long RLE,
the worst case for the store) and a stored analysis at the real model's sizes
(100 queries, 640-d CLIP vectors) for re-query and promotion. No model runs.

Each edit is timed `--repeat` times as the user waits for it: the handler the
UI calls (the edit committed durably, then the tab's answer: viewer state,
tools, sessions list), then what the browser fetches to draw the new state
(the viewer's /tracks document and the shown frame's overlay PNG, through the
viewer's HTTP routes):
relabel, delete, delete frames 10-20, merge, split, brush apply, copy forward
(10 frames), promote, undo, redo, re-label of the whole vocabulary (20
classes: classification from the stored vectors, then the store), and resume
(open the session, answer its first view and draw it). Edits that are not undo/redo
are undone, untimed, between repetitions, so each repetition sees the same
session. Also reported: the store's part alone (`store_*`: the edit up to its
durable commit) and for re-label the classification's part (`classify`).

--json prints one object:
{"frames": [...], "median_ms": {"455": {edit: ms}}, "p95_ms": {...}, "store_median_ms": {...},
 "store_p95_ms": {...}, "setup_s": {...}, "db_mb": {...}}
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import sys
import tempfile
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from clipvis.analysis_io import StoredAnalysis  # noqa: E402
from clipvis.classify import classify_analysis  # noqa: E402
from clipvis.masks import FrameMaskCode  # noqa: E402
from clipvis.structures import VideoAnalysis, VideoMeta  # noqa: E402
from clipvis.vocab import Vocabulary  # noqa: E402

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from app.callbacks import edit, view  # noqa: E402
from app.config import Studio, StudioConfig, parse_args  # noqa: E402
from app.session import Limits, Session, Track  # noqa: E402
from app.session.from_engine import vocabulary_for_requery  # noqa: E402
from app.session.operations import Proposal, replace_all, rle_counts  # noqa: E402
from app.view_state import ViewState  # noqa: E402
from app.viewer.document import snapshot  # noqa: E402
from app.viewer.routes import viewer_routes  # noqa: E402

H, W = 480, 640
TRACKS = 20
QUERIES, DIM, CLASSES = 100, 640, 20
POOL = 24  # distinct noisy masks per track, cycled over the frames
BROWSER = "b" * 32
SHOWN_FRAME = 15
EDITS = ("relabel", "delete", "delete frames 10-20", "merge", "split", "brush apply", "copy forward", "promote",
         "undo", "redo", "re-label whole vocabulary", "resume")


def noisy_masks(k: int, rng) -> list[bytes]:
    """POOL noisy masks of track k, as RLE strings."""
    out = []
    cy, cx = 60 + (k % 4) * 110, 60 + (k // 4) * 120
    ys, xs = np.ogrid[:H, :W]
    for i in range(POOL):
        y0, x0 = cy + i % 7, cx + i % 5
        m = ((ys - y0) / 45.0) ** 2 + ((xs - x0) / 60.0) ** 2 <= 1
        box = (slice(max(0, y0 - 50), y0 + 50), slice(max(0, x0 - 65), x0 + 65))
        m[box] ^= rng.random(m[box].shape) < 0.05
        out.append(rle_counts(m))
    return out


def frame_folder(folder: Path, n: int) -> list[Path]:
    """n frames of one 640x480 JPEG (hard links: the upload is n files)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    first = folder / "f00000.jpg"
    cv2.imwrite(str(first), rng.integers(0, 255, (H, W, 3), dtype=np.uint8))
    paths = [first]
    for t in range(1, n):
        p = folder / f"f{t:05d}.jpg"
        p.hardlink_to(first)
        paths.append(p)
    return paths


def synthetic_analysis(n: int) -> StoredAnalysis:
    g = torch.Generator().manual_seed(0)
    code = FrameMaskCode.encode(torch.randn(QUERIES, 8, 8, generator=g))  # masks are only decoded when shown
    analysis = VideoAnalysis(
        meta=VideoMeta(num_frames=n, frame_hw=(H, W), input_hw=(H, W), padded_hw=(H, W)),
        object_logits=torch.randn(QUERIES, n, 2, generator=g), ious=torch.rand(QUERIES, n, generator=g),
        pooled=torch.randn(QUERIES, n, DIM, generator=g).half(), pool_empty=torch.zeros(QUERIES, n, dtype=torch.bool),
        pos_sigmoid_sum=torch.rand(QUERIES, n, generator=g) * 100, pos_count=torch.rand(QUERIES, n, generator=g) * 150,
        mask_codes=[code] * n)
    return StoredAnalysis(analysis=analysis, mask_nonempty=np.ones((QUERIES, n), bool))


def build(root: Path, n: int) -> tuple[Session, float]:
    started = time.perf_counter()
    frames = frame_folder(root / "upload", n)
    session = Session.create(root / "work", BROWSER, frames, f"bench {n} frames.mp4",
                             limits=Limits(max_frames=n, max_upload_mb=10**6))
    shutil.rmtree(root / "upload")
    rng = np.random.default_rng(1)
    vocab = Vocabulary.from_names([f"class {i}" for i in range(CLASSES)])
    p = Proposal({}, "")
    tracks = []
    for k in range(TRACKS):
        pool = noisy_masks(k, rng)  # one row per (track, frame), as a run stores them
        tracks.append(Track(id=k + 1, category_id=k % CLASSES + 1, score=0.9 - 0.01 * k, query=k,
                            refs=[p.add_mask(pool[(t + k) % POOL]) for t in range(n)],
                            top_classes=tuple((c + 1, 0.5 - 0.01 * c) for c in range(5))))
    session.commit(replace_all(session.state, tracks, vocab, "bench tracks", masks=p.masks))
    # A stored analysis, as a run leaves it (for re-label and promote).
    session.analyses.save(1, synthetic_analysis(n))
    session.commit(Proposal({}, "bench analysis", fields={"analysis": (None, {"run": 1, "model": "bench"})}))
    return session, time.perf_counter() - started


class Timer:
    def __init__(self):
        self.store = None

    def wrap(self, fn):
        """An edit action whose store part is timed."""
        def action(s, rev):
            t0 = time.perf_counter()
            out = fn(s, rev)
            self.store = time.perf_counter() - t0
            return out
        return action


def measure(session: Session, n: int, repeat: int) -> tuple[dict, dict, dict]:
    rows = torch.nn.functional.normalize(torch.randn(CLASSES, DIM, generator=torch.Generator().manual_seed(2)), dim=-1)
    vocab_a = session.state.vocabulary
    vocab_b = Vocabulary.from_names([f"other {i}" for i in range(CLASSES)])
    studio = Studio(config=StudioConfig.from_args(parse_args(["--workdir", str(session.folder.parents[1])])),
                    service=None)
    http = TestClient(FastAPI(routes=viewer_routes(studio.viewer)))
    timer = Timer()
    total: dict = {e: [] for e in EDITS}
    store: dict = {e: [] for e in EDITS}
    classify: list = []
    shown = {"frame": SHOWN_FRAME}

    def tab(**kw):
        return ViewState(session=session, browser=BROWSER, revision=session.revision, frame=SHOWN_FRAME, **kw)

    def drawn(s):
        """What the browser fetches once it sees the new revision."""
        token = studio.viewer.token(s)
        for path in (f"/clipvis/v/{token}/tracks", f"/clipvis/v/{token}/overlay/{SHOWN_FRAME}"):
            assert http.get(path).status_code in (200, 204), path

    def timed(name, call, undo_after=True, of=None):
        t0 = time.perf_counter()
        out = call()
        drawn(of() if of else session)
        total[name].append(time.perf_counter() - t0)
        store[name].append(timer.store)
        assert "⚠️" not in str(out.get("message", "")), (name, out.get("message"))
        if undo_after:
            session.undo()

    def edit_of(selected, fn):
        return lambda: edit.run_edit(studio, tab(selected=selected), {**shown, "selected": selected}, timer.wrap(fn))

    # A brush stroke as the viewer sends it: a PNG at the display size, red where painted.
    dw, dh = snapshot(session).geo.display_wh
    strokes = np.zeros((dh, dw, 4), np.uint8)
    strokes[dh // 3:dh // 2, dw // 3:dw // 2] = (0, 0, 255, 255)  # BGRA: red
    png = "data:image/png;base64," + base64.b64encode(cv2.imencode(".png", strokes)[1].tobytes()).decode()
    for rep in range(repeat + 1):  # the first round warms caches and is not kept
        cid = 1 + rep % 2
        timed("relabel", edit_of(3, lambda s, v: s.relabel(3, cid, base_revision=v.revision)), undo_after=False)
        timed("delete", edit_of(4, lambda s, v: s.delete(4, base_revision=v.revision)))
        timed("delete frames 10-20", edit_of(5, lambda s, v: s.delete_frames(5, 10, 20, base_revision=v.revision)))
        timed("merge", edit_of(6, lambda s, v: s.merge(6, 7, base_revision=v.revision)))
        timed("split", edit_of(8, lambda s, v: s.split(8, n // 2, base_revision=v.revision)))
        original = session.set_mask

        def set_mask_timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                timer.store = time.perf_counter() - t0
        session.set_mask = set_mask_timed
        event = types.SimpleNamespace(_data={"frame": SHOWN_FRAME, "track": 9, "png": png})
        timed("brush apply", lambda: edit.paint(studio, tab(selected=9), {**shown, "selected": 9}, event))
        del session.set_mask
        timed("copy forward", edit_of(10, lambda s, v: s.copy_forward(10, min(30, n - 12), 10, base_revision=v.revision)))
        session.result = classify_analysis(session.analysis, session.state.vocabulary, text_rows=rows,
                                           synonyms_per_class=[1] * CLASSES, logit_scale=torch.tensor(4.6))
        timed("promote", edit_of(None, lambda s, v: s.promote(50 + rep, base_revision=v.revision)))
        session.relabel(11, 1 + rep % 3)
        timed("undo", edit_of(None, lambda s, v: s.undo(base_revision=v.revision)), undo_after=False)
        timed("redo", edit_of(None, lambda s, v: s.redo(base_revision=v.revision)), undo_after=False)

        def requery():
            t0 = time.perf_counter()
            # As the handler: the model's tracks are classified against the asked classes.
            asked = vocab_b if rep % 2 == 0 else vocab_a
            vocab, _ = vocabulary_for_requery(asked, session.state)
            text = torch.nn.functional.normalize(torch.randn(len(asked), DIM, generator=torch.Generator()
                                                             .manual_seed(len(asked))), dim=-1)
            result = classify_analysis(session.analysis, asked, text_rows=text, synonyms_per_class=[1] * len(asked),
                                       logit_scale=torch.tensor(4.6))
            classify.append(time.perf_counter() - t0)
            return edit.run_edit(studio, tab(), shown, timer.wrap(lambda s, v: s.requery(result, vocabulary=vocab)[0]))
        timed("re-label whole vocabulary", requery)

        reopened = {}

        def resume():
            t0 = time.perf_counter()
            again = reopened["s"] = Session.open(session.folder.parents[1], BROWSER, session.meta.id)
            timer.store = time.perf_counter() - t0
            return view.changed(studio, ViewState(session=again, browser=BROWSER))
        timed("resume", resume, undo_after=False, of=lambda: reopened["s"])
        reopened["s"].close()
    drop = {e: v[1:] for e, v in total.items()}
    return drop, {e: v[1:] for e, v in store.items()}, {"classify": classify[1:]}


def summary(samples: dict) -> tuple[dict, dict]:
    med = {e: round(1000 * statistics.median(v), 2) for e, v in samples.items()}
    p95 = {e: round(1000 * float(np.percentile(v, 95)), 2) for e, v in samples.items()}
    return med, p95


def main():
    ap = argparse.ArgumentParser(description="Studio edits at several video lengths (server side).")
    ap.add_argument("--frames", type=int, nargs="+", default=[455, 4550])
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON object only")
    ap.add_argument("--keep", help="build the sessions in this folder and keep them")
    args = ap.parse_args()
    torch.set_num_threads(2)
    out = {"frames": args.frames, "median_ms": {}, "p95_ms": {}, "store_median_ms": {}, "store_p95_ms": {},
           "classify_median_ms": {}, "setup_s": {}, "db_mb": {}}
    for n in args.frames:
        root = Path(args.keep or tempfile.mkdtemp(prefix="bench_edits_")) / f"n{n}"
        try:
            session, setup = build(root, n)
            total, store, parts = measure(session, n, args.repeat)
            key = str(n)
            out["median_ms"][key], out["p95_ms"][key] = summary(total)
            out["store_median_ms"][key], out["store_p95_ms"][key] = summary(store)
            out["classify_median_ms"][key] = round(1000 * statistics.median(parts["classify"]), 2)
            out["setup_s"][key] = round(setup, 1)
            out["db_mb"][key] = round(sum(f.stat().st_size for f in session.folder.glob("session.sqlite*")) / 1e6, 1)
            session.close()
        finally:
            if not args.keep:
                shutil.rmtree(root.parent, ignore_errors=True)
        if not args.json:
            print(f"{n} frames: built in {out['setup_s'][str(n)]} s, database {out['db_mb'][str(n)]} MB", flush=True)
    if args.json:
        print(json.dumps(out))
        return
    frames = [str(n) for n in args.frames]
    print("| edit | " + " | ".join(f"{n}: median / p95 ms (store)" for n in frames) + " |")
    print("|---|" + "---|" * len(frames))
    print("| (re-label: classification alone) | " + " | ".join(f"{out['classify_median_ms'][n]:.1f}" for n in frames)
          + " |")
    for e in EDITS:
        cells = [f"{out['median_ms'][n][e]:.1f} / {out['p95_ms'][n][e]:.1f} ({out['store_median_ms'][n][e]:.1f})"
                 for n in frames]
        print(f"| {e} | " + " | ".join(cells) + " |")
    if len(frames) > 1:
        a, b = frames[0], frames[-1]
        print(f"ratio {b}/{a} of medians: " + ", ".join(
            f"{e} {out['median_ms'][b][e] / out['median_ms'][a][e]:.2f}" for e in EDITS))


if __name__ == "__main__":
    main()
