"""The CLIP-VIS network: backbone, pixel decoder, transformer decoder."""
from .clipvis import CLIPVISModel, FrameBatchOutput, HeadConfig
from .transformer_decoder import DecoderOutput

__all__ = ["CLIPVISModel", "FrameBatchOutput", "HeadConfig", "DecoderOutput"]
