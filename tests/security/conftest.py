"""Files that would run code if unpickled: each leaves a marker file when it does."""
from __future__ import annotations

import os
import pickle

import pytest
import torch


class _RunsCode:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling calls os.system("touch <marker>")
        return os.system, (f"touch '{self.marker}'",)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "MARKER_code_ran"
    yield path
    assert not path.exists(), "a file was unpickled: its code ran"


@pytest.fixture
def raw_pickle(tmp_path, marker):
    """A bare pickle named .pth (what the issue's attack uploaded)."""
    path = tmp_path / "upload" / "model.pth"
    path.parent.mkdir()
    path.write_bytes(pickle.dumps(_RunsCode(marker)))
    return path


@pytest.fixture
def torch_pickle(tmp_path, marker, tiny_checkpoint):
    """A real checkpoint with a code-running object beside the weights."""
    obj = torch.load(tiny_checkpoint, weights_only=True)
    obj["trainer"] = _RunsCode(marker)
    path = tmp_path / "evil_but_looks_right.pth"
    torch.save(obj, path)
    return path
