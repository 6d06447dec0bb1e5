"""Fixtures for the studio's tests: a small real video file and sessions on it."""
from __future__ import annotations

import numpy as np
import pytest

from clipvis.formats.overlay import write_overlay_video
from clipvis.formats.rle import mask_to_rle
from tests.conftest import moving_squares_video

from app.session import Session, Track
from app.session.operations import replace_all

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


@pytest.fixture
def tracked(session):
    """The session with two hand-made tracks: #1 the red square, #2 the green one."""
    red, green = squares_masks()
    vocab = session.state.vocabulary.from_names(["square", "blob"])
    tracks = [Track(id=1, category_id=1, score=0.9, segmentations=tuple(mask_to_rle(m) for m in red)),
              Track(id=2, category_id=2, score=0.4, segmentations=tuple(mask_to_rle(m) for m in green))]
    session.commit(replace_all(session.state, tracks, vocab, "test tracks"))
    return session


def snapshot(session):
    """Comparable state: tracks (metadata and masks) and the vocabulary."""
    return ({tid: (t.meta(), t.segmentations) for tid, t in session.state.tracks.items()},
            session.state.vocabulary, frozenset(session.state.dismissed))


def plain(markdown: str) -> str:
    """What a Markdown message reads as: backslash escapes and entities resolved
    (app.callbacks.text.md escapes every user-supplied text)."""
    import html
    import re
    return html.unescape(re.sub(r"\\(.)", r"\1", markdown))
