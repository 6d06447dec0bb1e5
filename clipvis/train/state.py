"""Checkpoints of a run, written so that a crash at any moment leaves a run
that resumes exactly.

- `model_<iteration>.safetensors` (and `model_final.safetensors`): the whole
  model in the project's own format (clipvis.weights.save_checkpoint), which
  load_predictor, the studio and the labeller load like an official one;
- `train_state.pt`: iteration, optimizer and grad-scaler state, the run's
  settings and the loss log, naming the weights file it belongs to.

The weights are written first, then the state (each atomically), and only
then are older weights files removed, so the state on disk always names a
weights file that exists. Every random draw is a function of (seed,
iteration), so no random generator state needs saving.
"""
from __future__ import annotations

from pathlib import Path

import torch

from clipvis.atomic import atomic_path
from clipvis.weights import save_checkpoint

STATE_FILE = "train_state.pt"
FINAL_WEIGHTS = "model_final.safetensors"


def weights_name(iteration: int, *, final: bool) -> str:
    return FINAL_WEIGHTS if final else f"model_{iteration:07d}.safetensors"


def save_run(out, *, model, clip_model_name: str, iteration: int, final: bool, optimizer, scaler,
             config: dict, history: list[dict]) -> Path:
    """Returns the weights file written."""
    out = Path(out)
    name = weights_name(iteration, final=final)
    save_checkpoint(out / name, model, clip_model_name=clip_model_name, extra={"iteration": iteration})
    state = {"iteration": iteration, "weights": name, "clip_model": clip_model_name,
             "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
             "config": config, "history": history}
    with atomic_path(out / STATE_FILE) as tmp:
        torch.save(state, tmp)
    for old in out.glob("model_*.safetensors"):
        if old.name not in (name, FINAL_WEIGHTS):
            old.unlink(missing_ok=True)
    return out / name


def load_run(out) -> dict | None:
    """The saved state of the run in `out`, or None if it has none."""
    path = Path(out) / STATE_FILE
    if not path.exists():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a damaged file: say which, do not start over silently
        raise RuntimeError(f"cannot read the training state {path}: {e}") from None
    if not (Path(out) / state["weights"]).exists():
        raise RuntimeError(f"{path} names {state['weights']}, which is not in {out}")
    return state
