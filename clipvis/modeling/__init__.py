"""The CLIP-VIS network: backbone, pixel decoder, transformer decoder."""
from .clipvis import CLIPVISModel, FrameBatchOutput, FrameStages, HeadConfig
from .mask_features import MaskFeatures
from .transformer_decoder import DecoderOutput

__all__ = ["CLIPVISModel", "DecoderOutput", "FrameBatchOutput", "FrameStages", "HeadConfig", "MaskFeatures"]
