"""Fixtures of the data-layer tests; the video makers live in videogen.py."""
from __future__ import annotations

import pytest

from tests.data.videogen import make_frames, write_cv2


@pytest.fixture
def avi(tmp_path):
    return write_cv2(tmp_path / "clip.avi", make_frames(10))
