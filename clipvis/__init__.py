"""CLIP-VIS: open-vocabulary video instance segmentation (Zhu et al., TCSVT 2024).

The public API, flat:

    from clipvis import load_predictor, load_vocabulary
    predictor = load_predictor("clipvis_convnext_b_lvis", min_size=480)  # a .pth / .safetensors path, or "demo"
    result = predictor.predict("clip.mp4", load_vocabulary("person, dog"), progress=print)
    for inst in result.instances: print(inst.name, inst.score, inst.first_frame, inst.last_frame)
    relabelled = predictor.classify(result.analysis, load_vocabulary("lvvis"))  # no second video pass
"""
import importlib

# Imported on first use (PEP 562), so `python -m clipvis evaluate` and the data
# layer do not load torch and the model code.
_EXPORTS = {
    "load_predictor": "build", "predictor_for": "build", "build_model": "build", "create_clip": "build", "resolve_device": "build",
    "UnknownCLIPModel": "build",
    "VideoPredictor": "predictor", "InferenceConfig": "config", "Progress": "predictor",
    "CPUVideoPredictor": "backends", "DEMO": "demo",
    "Cancelled": "predictor", "EmptyVideoError": "predictor",
    "VideoResult": "structures", "VideoAnalysis": "structures", "VideoMeta": "structures", "Instance": "structures",
    "Vocabulary": "vocab", "VocabClass": "vocab", "VocabularyError": "vocab", "parse_vocabulary_text": "vocab",
    "load_vocabulary": "vocab", "list_vocabularies": "vocab",
    "open_video": "video", "VideoDecodeError": "video",
    "CHECKPOINTS": "weights", "CheckpointMismatch": "weights", "WeightsUnavailable": "weights",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'clipvis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value
