"""CLIP-VIS: open-vocabulary video instance segmentation (Zhu et al., TCSVT 2024).

The public API, flat:

    from clipvis import load_predictor, load_vocabulary, open_video
    predictor = load_predictor("clipvis_convnext_b_lvis")          # or a .pth / .safetensors path
    video = open_video("clip.mp4")
    result = predictor.predict(video.frames(), load_vocabulary("person, dog"), progress=print)
    for inst in result.instances: print(inst.name, inst.score, inst.first_frame, inst.last_frame)
    relabelled = predictor.classify(result.analysis, load_vocabulary("lvvis"))  # no second video pass
"""
from .build import UnknownCLIPModel, build_model, create_clip, load_predictor, resolve_device
from .predictor import Cancelled, EmptyVideoError, InferenceConfig, Progress, VideoPredictor
from .structures import Instance, VideoAnalysis, VideoMeta, VideoResult
from .vocab import VocabClass, Vocabulary, VocabularyError, parse_vocabulary_text
from .weights import CHECKPOINTS, CheckpointMismatch, WeightsUnavailable

__all__ = [
    "load_predictor", "build_model", "create_clip", "resolve_device", "UnknownCLIPModel",
    "VideoPredictor", "InferenceConfig", "Progress", "Cancelled", "EmptyVideoError",
    "VideoResult", "VideoAnalysis", "VideoMeta", "Instance",
    "Vocabulary", "VocabClass", "VocabularyError", "parse_vocabulary_text",
    "CHECKPOINTS", "CheckpointMismatch", "WeightsUnavailable",
]
