"""A deterministic stream of edits on a session, for the kill -9 test.

    python -m tests.app.store_worker ROOT BROWSER SESSION START COUNT

applies edits START .. START+COUNT-1 and prints `ACK <i>` (flushed) after
each one is acknowledged, i.e. after its commit returned. Edit i depends only
on i and the session's state, so the test can replay the same stream in
process and know what the session must hold after any number of edits.
Every step changes the document (one new revision).
"""
from __future__ import annotations

import random
import sys

import numpy as np

from app.session import Session


def step(i: int, session: Session):
    """Apply edit number i: one new revision, always."""
    edit = _attempt(i, session)
    if edit is None or edit.empty:  # not possible, or no change on this state: relabel (or undo) instead
        ids = sorted(session.state.tracks)
        edit = session.relabel(random.Random(i).choice(ids), f"class {i}") if ids else session.undo()
    return edit


def _attempt(i: int, session: Session):
    rng = random.Random(i)
    state = session.state
    ids = sorted(state.tracks)
    kind = rng.choice(["relabel", "hide", "paint", "copy", "cut", "split", "merge", "delete", "undo", "redo"])
    tid = rng.choice(ids) if ids else None
    T, h, w = state.num_frames, state.height, state.width
    try:
        if kind == "undo" and session.undo_stack:
            return session.undo()
        if kind == "redo" and session.redo_stack:
            return session.redo()
        if tid is not None:
            track = state.get(tid)
            t = rng.randrange(T)
            if kind == "hide":
                return session.set_hidden(tid, not track.hidden)
            if kind == "paint":
                mask = np.zeros((h, w), bool)
                y, x = rng.randrange(h - 8), rng.randrange(w - 8)
                mask[y:y + rng.randrange(2, 8), x:x + rng.randrange(2, 8)] = True
                return session.set_mask(tid, t, mask)
            if kind == "copy" and track.refs[t] and t < T - 1:
                return session.copy_forward(tid, t, rng.randrange(1, 4))
            if kind == "cut" and track.num_present > 1:
                return session.delete_frames(tid, t, min(T - 1, t + rng.randrange(2)))
            if kind == "split":
                return session.split(tid, t)
            if kind == "merge" and len(ids) > 1:
                return session.merge(tid, rng.choice([x for x in ids if x != tid]))
            if kind == "delete" and len(ids) > 2:
                return session.delete(tid)
    except ValueError:
        return None  # not possible on this state (nothing to split, ...)
    return None


def main(argv):
    root, browser, sid, start, count = argv[0], argv[1], argv[2], int(argv[3]), int(argv[4])
    session = Session.open(root, browser, sid)
    for i in range(start, start + count):
        step(i, session)
        print(f"ACK {i}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
