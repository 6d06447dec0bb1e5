"""The text-embedding cache is bounded (least recently used go first), in memory
and on disk, and `python -m clipvis cache clear` empties it."""
from __future__ import annotations

import os
import subprocess
import sys

import torch

from clipvis.text import TextEncoder

from tests.conftest import REPO


def encoder(tiny_predictor, folder, prompts_kept):
    clip, tok = tiny_predictor.model.backbone.clip_model, tiny_predictor.text.tokenizer
    dim = tiny_predictor.text._embed_dim()
    return TextEncoder(clip, tok, cache_dir=folder, cache_mb=prompts_kept * 4 * dim / 2**20)


def test_the_cache_keeps_the_most_recent_prompts(tiny_predictor, tmp_path):
    enc = encoder(tiny_predictor, tmp_path, 10)
    assert enc.max_prompts == 10
    first = enc.encode_prompts([f"a photo of thing {i}" for i in range(8)])
    enc.encode_prompts(["a photo of thing 0"])  # used again: now the most recent
    enc.encode_prompts([f"another prompt {i}" for i in range(5)])
    kept = list(enc._memory)
    assert len(kept) == 10
    assert "a photo of thing 0" in kept and "a photo of thing 1" not in kept  # least recently used went first
    # A call larger than the bound still answers every prompt, and equals what was encoded before.
    many = [f"a photo of thing {i}" for i in range(8)] + [f"more {i}" for i in range(20)]
    out = enc.encode_prompts(many)
    assert out.shape[0] == 28 and len(enc._memory) == 10
    torch.testing.assert_close(out[:8], first)


def test_the_disk_file_is_bounded_and_reloads(tiny_predictor, tmp_path):
    enc = encoder(tiny_predictor, tmp_path, 6)
    enc.encode_prompts([f"p{i}" for i in range(20)])
    again = encoder(tiny_predictor, tmp_path, 6)
    again._load_cache()
    assert list(again._memory) == [f"p{i}" for i in range(14, 20)]
    size = enc.cache_file.stat().st_size
    assert size < 6 * 4 * tiny_predictor.text._embed_dim() + 4096


def test_cache_clear_empties_the_text_cache(tiny_predictor, tmp_path):
    enc = encoder(tiny_predictor, tmp_path, 6)
    enc.encode_prompts(["a dog"])
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "kept.pth").write_bytes(b"weights")
    env = {**os.environ, "CLIPVIS_CACHE": str(tmp_path)}
    info = subprocess.run([sys.executable, "-m", "clipvis", "cache", "info"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert info.returncode == 0 and "text/" in info.stdout
    proc = subprocess.run([sys.executable, "-m", "clipvis", "cache", "clear"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not enc.cache_file.exists() and (tmp_path / "checkpoints" / "kept.pth").exists()
