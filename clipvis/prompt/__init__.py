"""Click to segment and track any object with SAM 2, labelled by CLIP-VIS's
open vocabulary. Library only: it knows no UI (docs/PROMPT.md).

    from clipvis.prompt import Prompt, load_prompt_tracker, engine_clip, pool_track, classify_track
    tracker = load_prompt_tracker()                     # SAM 2.1 Hiera-Tiny from the Hub cache
    session = tracker.session(frames)                   # RGB arrays, or a clipvis.video source
    preview = session.prompt(12, Prompt.click(320, 200))
    masks = {s.frame: s.mask for s in session.propagate(cancel=event)}
    clip = engine_clip(predictor)                       # the CLIP-VIS engine's CLIP
    vector = pool_track(clip, session.frames, masks)    # one CLIP vector for the track; store it
    top5 = classify_track(clip, vector, vocabulary)     # [(category_id, name, score), ...]
"""
from .frames import FrameError, FrameSource, frame_source
from .hub import (DEFAULT_SAM_MODEL, KNOWN_SAM_MODELS, SAM_MODEL_ENV, SamModelUnavailable, fetch_sam_model,
                  load_sam_model, sam_model_name)
from .engine import DenseMap, EngineCLIP, engine_clip
from .labels import DEFAULT_POOL_FRAMES, ClassScore, classify_track, pool_track, select_frames
from .prompts import Prompt, PromptError
from .tracker import PromptSession, PromptTracker, TrackStep, load_prompt_tracker

__all__ = [
    "ClassScore", "DEFAULT_POOL_FRAMES", "DenseMap", "EngineCLIP", "classify_track", "engine_clip", "pool_track",
    "select_frames", "DEFAULT_SAM_MODEL", "KNOWN_SAM_MODELS", "SAM_MODEL_ENV", "FrameError", "FrameSource", "Prompt", "PromptError",
    "PromptSession", "PromptTracker", "SamModelUnavailable", "TrackStep", "fetch_sam_model", "frame_source",
    "load_prompt_tracker", "load_sam_model", "sam_model_name",
]
