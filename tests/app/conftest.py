"""Fixtures for the studio's tests: a small real video file and sessions on it."""
from __future__ import annotations

import numpy as np
import pytest

from clipvis.formats.overlay import write_overlay_video
from clipvis.vocab import Vocabulary
from tests.conftest import moving_squares_video

from app.session import Session, Track
from app.session.operations import Proposal, replace_all, rle_counts
from app.view_state import ViewState

BROWSER = "b" * 32


def squares_masks(num_frames=8, h=72, w=96):
    """Per frame the two squares of moving_squares_video, as bool masks."""
    red, green = [], []
    for t in range(num_frames):
        m = np.zeros((h, w), bool)
        m[10 + t:30 + t, 5 + 2 * t:25 + 2 * t] = True
        red.append(m)
        m = np.zeros((h, w), bool)
        m[40:60, 60 - t:80 - t] = True
        green.append(m)
    return red, green


@pytest.fixture
def video_file(tmp_path):
    # An odd name on purpose: user names must never become paths.
    return write_overlay_video(tmp_path / "my ..video.mp4", iter(moving_squares_video(8)), fps=5)


@pytest.fixture
def session(tmp_path, video_file):
    return Session.create(tmp_path / "work", BROWSER, [video_file], "../../etc/passwd.mp4")


def add_tracks(session, masks_per_track, names=("square", "blob"), scores=(0.9, 0.4)):
    """Replace the session's tracks by hand-made ones: track k + 1 has masks_per_track[k]."""
    p = Proposal({}, "")
    tracks = [Track(id=k + 1, category_id=k + 1, score=scores[k],
                    refs=[p.add_mask(rle_counts(m)) if m.any() else 0 for m in masks])
              for k, masks in enumerate(masks_per_track)]
    return session.commit(replace_all(session.state, tracks, Vocabulary.from_names(list(names)), "test tracks",
                                      masks=p.masks))


@pytest.fixture
def tracked(session):
    """The session with two hand-made tracks: #1 the red square, #2 the green one."""
    add_tracks(session, squares_masks())
    return session


def tab(session, **changes) -> ViewState:
    """A browser tab showing `session`, drawn from its current revision."""
    return ViewState(session=session, browser=BROWSER, revision=session.revision, **changes)


def snapshot(session):
    """Comparable state: tracks (metadata and every frame's mask) and the vocabulary."""
    return ({tid: (t.meta(), tuple(None if s is None else s["counts"] for s in session.segmentations(tid)))
             for tid, t in session.state.tracks.items()},
            session.state.vocabulary, frozenset(session.state.dismissed))


def plain(markdown: str) -> str:
    """What a Markdown message reads as: backslash escapes and entities resolved
    (app.messages.md escapes every user-supplied text)."""
    import html
    import re
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))


@pytest.fixture
def studio(tmp_path):
    """The studio's context for handlers that need no model (viewer tokens, the run queue)."""
    from app.config import Studio, StudioConfig, parse_args
    return Studio(config=StudioConfig.from_args(parse_args(["--workdir", str(tmp_path / "work")])), service=None)
