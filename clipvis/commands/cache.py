"""`python -m clipvis cache info | clear`: what the cache folder holds, and emptying it.

The cache (env CLIPVIS_CACHE, default ~/.cache/clipvis) holds text embeddings
(text/, one file per text tower, bounded: see clipvis/text.py) and downloads
(checkpoints/, open_clip/). `clear` empties the text embeddings, which are
remade on demand; `clear --downloads` also deletes downloaded weights.
"""
from __future__ import annotations

import argparse
import shutil
import sys

PARTS = {"text": "text embeddings", "checkpoints": "downloaded CLIP-VIS checkpoints",
         "open_clip": "downloaded CLIP weights"}


def add_arguments(p: argparse.ArgumentParser):
    p.add_argument("action", choices=["info", "clear"])
    p.add_argument("--downloads", action="store_true", help="clear: also delete downloaded weights")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _size(path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def run(args) -> int:
    from ..text import default_cache_dir

    root = default_cache_dir()
    if args.action == "info":
        print(f"cache: {root}")
        for part, what in PARTS.items():
            print(f"  {part + '/':<13} {_size(root / part) / 2**20:9.1f} MB  {what}")
        return 0
    parts = list(PARTS) if args.downloads else ["text"]
    for part in parts:
        folder = root / part
        if folder.is_dir():
            freed = _size(folder)
            shutil.rmtree(folder)
            print(f"cleared {folder} ({freed / 2**20:.1f} MB, {PARTS[part]})", file=sys.stderr)
    return 0
