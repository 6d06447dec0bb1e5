"""Memory and message for each input of issue 15's probe, and for large inputs within the limits.

    python bench/bench_inputs.py [--folder DIR] [--keep]

For each input, in a fresh process per way of reading it (the process is set up
first, then its resident memory is the idle figure and its peak is reset before
each input):
- "studio": the studio's load handler (`app.callbacks.files.load_video`), as a
  visitor's upload reaches it: the session copy, the checks, the display cache;
- "reader": the engine's reader as `python -m clipvis predict` uses it: open the
  input, then decode every frame.
Prints a markdown table: peak resident memory above idle (MB) and the message.
The issue's figure: at most 2 GB above idle for each probe input, and a sentence.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.probe_inputs import big_png, make_probes, measure  # noqa: E402

LIMIT_MB = 2048


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folder", type=Path, help="where to make the inputs (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the inputs afterwards")
    args = ap.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="clipvis-probe-"))
    try:
        inputs = make_probes(folder)
        # Within the limits but beyond what anything downstream uses: read, and shrunk on load.
        inputs["PNG 8000x8000 (accepted, shrunk to 3840)"] = big_png(folder / "big8000.png", 8000)
        rows = {name: {} for name in inputs}
        for how in ("studio", "reader"):
            results = measure(list(inputs.values()), "studio" if how == "studio" else "read",
                              workdir=folder / "work")
            for name, r in zip(inputs, results):
                rows[name][how] = r
        print(f"inputs in {folder}; idle RSS: studio {rows[next(iter(rows))]['studio']['idle_mb']:.0f} MB, "
              f"reader {rows[next(iter(rows))]['reader']['idle_mb']:.0f} MB")
        print("| input | on disk | studio: peak above idle (MB) | reader: peak above idle (MB) | message (studio) |")
        print("|---|---|---|---|---|")
        worst = 0.0
        for name, path in inputs.items():
            s, r = rows[name]["studio"], rows[name]["reader"]
            worst = max(worst, s["peak_above_idle_mb"], r["peak_above_idle_mb"])
            size = path.stat().st_size / 2**20
            message = s["message"].replace("|", "/").replace(str(folder), "…")
            print(f"| {name} | {size:.1f} MB | {s['peak_above_idle_mb']:.0f} | {r['peak_above_idle_mb']:.0f} | "
                  f"{message} |")
        print(f"\nlargest rise above idle: {worst:.0f} MB (issue 15's bound: {LIMIT_MB} MB) -> "
              f"{'met' if worst <= LIMIT_MB else 'NOT met'}")
    finally:
        if not args.keep and args.folder is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
