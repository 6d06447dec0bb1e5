"""Nothing is unpickled on the way from a file to a model; the converter is the
one place that may, and only when told (issue 15)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from clipvis import CheckpointMismatch, load_predictor
from clipvis.weights import UnsafeCheckpoint, read_state_dict

from tests.conftest import REPO

CONVERTER = REPO / "clipvis" / "commands" / "convert.py"
UNPICKLING = re.compile(r"weights_only\s*=\s*False|pickle\.loads?\b|Unpickler|allow_pickle\s*=\s*True|"
                        r"\b(?:joblib|dill|shelve|marshal)\b")


def test_no_unpickling_in_the_library_or_the_studio():
    found = []
    for root in ("clipvis", "app"):
        for path in sorted((REPO / root).rglob("*.py")):
            if path == CONVERTER:
                continue
            for n, line in enumerate(path.read_text().splitlines(), 1):
                if UNPICKLING.search(line):
                    found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
            for call in re.finditer(r"torch\.load\(", path.read_text()):
                text = path.read_text()[call.end():call.end() + 200]
                if "weights_only=True" not in text.split(")")[0] + text.split("\n")[0]:
                    found.append(f"{path.relative_to(REPO)}: torch.load without weights_only=True")
    assert not found, "unpickling outside the converter:\n" + "\n".join(found)


def test_the_grep_sees_what_it_looks_for():
    for line in ("torch.load(p, weights_only=False)", "pickle.loads(b)", "x = pickle.load(f)",
                 "class U(pickle.Unpickler):", "np.load(f, allow_pickle=True)"):
        assert UNPICKLING.search(line), line


@pytest.mark.parametrize("kind", ["raw_pickle", "torch_pickle"])
def test_loading_a_code_carrying_checkpoint_is_refused(request, kind, marker):
    path = request.getfixturevalue(kind)
    with pytest.raises(CheckpointMismatch) as e:
        load_predictor(str(path), device="cpu")
    assert isinstance(e.value, UnsafeCheckpoint)
    assert "convert-checkpoint --trust-pickle" in str(e.value)
    assert not marker.exists()


def test_the_official_format_loads_safely(tiny_checkpoint):
    sd, meta = read_state_dict(tiny_checkpoint)
    assert sd and all(isinstance(v, torch.Tensor) for v in sd.values()) and meta == {}


def convert(*args, env=None):
    return subprocess.run([sys.executable, "-m", "clipvis", "convert-checkpoint", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_the_converter_refuses_a_pickle_that_is_not_a_plain_state_dict(torch_pickle, raw_pickle, tmp_path, marker):
    for source in (torch_pickle, raw_pickle):
        proc = convert(source, tmp_path / "out.safetensors")
        assert proc.returncode == 1
        assert "refused" in proc.stderr and "--trust-pickle" in proc.stderr
        assert proc.stderr.strip().count("\n") <= 2  # a sentence, not a traceback
        assert not (tmp_path / "out.safetensors").exists() and not marker.exists()


def test_the_converter_turns_a_trusted_pickle_into_safetensors(tiny_checkpoint, tiny_clip_config, tmp_path):
    """A trusted file with numpy objects beside the weights (as some trainers save):
    converted with --trust-pickle, then it loads without pickle and equals the original."""
    obj = torch.load(tiny_checkpoint, weights_only=True)
    obj["iteration_np"], obj["extra"] = np.int64(5), np.zeros(3)
    trusted = tmp_path / "trusted.pth"
    torch.save(obj, trusted)
    out = tmp_path / "trusted.safetensors"
    assert convert(trusted, out).returncode == 1  # refused without the flag: it is not plain
    proc = convert(trusted, out, "--trust-pickle", "--clip-config", tiny_clip_config)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "left out: extra, iteration_np" in proc.stderr
    sd, meta = read_state_dict(out)
    assert meta["clip_model"] == "clipvis_tiny_test" and "head" in meta
    for k, v in obj["model"].items():
        assert torch.equal(sd[k], v), k
    assert load_predictor(str(out), device="cpu").model.num_queries == 10


def test_the_converter_converts_a_plain_checkpoint_without_the_flag(tiny_checkpoint, tmp_path):
    proc = convert(tiny_checkpoint, tmp_path / "plain.safetensors")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "no CLIP model recorded" in proc.stderr  # a custom CLIP cannot be recognised from its keys


def test_training_records_travel_as_json():
    """The DataLoader's packed records (clipvis/train/sources.py) round-trip without pickle."""
    from clipvis.train.sources import ImageRecord, PackedList, VideoRecord
    records = [ImageRecord(path="a.jpg", height=4, width=6, segmentations=[[0.5, 1.0, 3.25, 1.0, 2.0, 3.0]]),
               VideoRecord(frame_paths=["f/0.jpg", "f/1.jpg"], height=2, width=2,
                           tracks=[[{"size": [2, 2], "counts": "04"}, None]])]
    packed = PackedList(records)
    assert len(packed) == 2 and [packed[i] for i in range(2)] == records
