"""Fixtures: the tiny random SAM 2 of tiny_sam.py, a tracker on it, a video."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.prompt.tiny_sam import squares_video, tiny_sam_model, tiny_sam_processor


@pytest.fixture(scope="session")
def sam_model():
    return tiny_sam_model()


@pytest.fixture(scope="session")
def tracker(sam_model):
    from clipvis.prompt import PromptTracker
    return PromptTracker(sam_model, tiny_sam_processor(), device="cpu", precision="fp32", name="tiny-test")


@pytest.fixture(scope="session")
def video() -> np.ndarray:
    return squares_video()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """The tiny model's ops are microseconds long; with two threads on a
    machine whose cores are shared, OpenMP's waiting made a frame 8x slower."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)
