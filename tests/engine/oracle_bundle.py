"""Reading an oracle bundle: outputs of the official CLIP-VIS code for one
model and video. Everything a test needs (sizes, vocabulary, tracking
settings) is read from the bundle's own files, so other bundles work too."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import torch


@dataclass
class OracleBundle:
    root: Path

    def npz(self, name: str):
        return np.load(self.root / name)

    @cached_property
    def summary(self) -> dict:
        return json.loads((self.root / "summary.json").read_text())

    @property
    def vocab(self) -> list[str]:
        return self.summary["vocab"]

    @property
    def clip_name(self) -> str:
        return self.summary["clip_name"]

    @property
    def clip_config(self) -> Path:
        return self.root / f"{self.clip_name}.json"

    @property
    def checkpoint(self) -> Path:
        return self.root / "model_final.pth"

    @cached_property
    def frames(self) -> np.ndarray:
        return np.load(self.root / "input_video_uint8.npy")

    @cached_property
    def min_size(self) -> int:
        # The resize rule's target: the shorter side of the resized input.
        return int(min(self.npz("preprocess.npz")["image_size_hw"]))

    @property
    def tags(self) -> list[tuple[str, int, int]]:
        """(tag, memory frames T, top-K) for every tracking config in the bundle."""
        out = []
        for p in sorted(self.root.glob("tracking_T*_K*.npz")):
            m = re.fullmatch(r"tracking_(T(\d+)_K(\d+))\.npz", p.name)
            if m:
                out.append((m.group(1), int(m.group(2)), int(m.group(3))))
        return out

    def topk(self, tag: str) -> int:
        return int(self.npz(f"instances_{tag}.npz")["scores"].shape[0])


def build_oracle_model(bundle: OracleBundle):
    from clipvis.build import build_model
    model, tokenizer, _ = build_model(checkpoint=str(bundle.checkpoint), clip_config=str(bundle.clip_config),
                                      clip_model=bundle.clip_name, device="cpu")
    return model, tokenizer


def assert_close(ours, theirs, *, rtol=1e-4, atol_frac=1e-4, what=""):
    """Relative tolerance against the oracle's scale: |a-b| <= rtol*|b| + atol_frac*max|b|."""
    ours = ours.detach().cpu().numpy() if isinstance(ours, torch.Tensor) else np.asarray(ours)
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs oracle {theirs.shape}"
    scale = float(np.abs(theirs).max()) or 1.0
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol_frac * scale, err_msg=what)
