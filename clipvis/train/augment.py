"""Large-scale jitter, as detectron2's RandomFlip + ResizeScale + FixedSizeCrop
do it for Mask2Former's COCO training:

1. flip horizontally with probability 1/2;
2. pick s in [min_scale, max_scale] and resize (keeping the aspect ratio) so
   the image fits in an (s * crop) square;
3. cut a random crop x crop window (the whole image where it is smaller) and
   pad bottom/right to crop x crop with grey 128 (masks with 0).

Instances that the crop leaves empty are dropped.
"""
from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from .config import AugmentConfig

PAD_VALUE = 128


def _resize_masks(masks: np.ndarray, h: int, w: int) -> np.ndarray:
    """(N, H, W) bool -> (N, h, w) bool, nearest; cv2 takes at most 512 channels at a time."""
    if len(masks) == 0:
        return np.zeros((0, h, w), dtype=bool)
    out = []
    for i in range(0, len(masks), 256):
        chunk = np.ascontiguousarray(masks[i:i + 256].transpose(1, 2, 0), dtype=np.uint8)
        r = cv2.resize(chunk, (w, h), interpolation=cv2.INTER_NEAREST)
        out.append(r.reshape(h, w, -1).transpose(2, 0, 1))
    return np.concatenate(out).astype(bool)


def large_scale_jitter(image: np.ndarray, masks: np.ndarray, rng: np.random.Generator,
                       config: AugmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """image (H, W, 3) uint8, masks (N, H, W) bool -> (crop, crop, 3) image and
    (N', crop, crop) masks of the instances still visible."""
    if config.flip and rng.random() < 0.5:
        image, masks = image[:, ::-1], masks[:, :, ::-1]
    h, w = image.shape[:2]
    crop = config.crop_size
    scale = rng.uniform(config.min_scale, config.max_scale)
    factor = min(scale * crop / h, scale * crop / w)
    nh, nw = max(1, int(round(h * factor))), max(1, int(round(w * factor)))
    image = np.asarray(Image.fromarray(np.ascontiguousarray(image)).resize((nw, nh), Image.BILINEAR))
    masks = _resize_masks(masks, nh, nw)
    top = int(round((nh - crop) * rng.random())) if nh > crop else 0
    left = int(round((nw - crop) * rng.random())) if nw > crop else 0
    image = image[top:top + crop, left:left + crop]
    masks = masks[:, top:top + crop, left:left + crop]
    ch, cw = image.shape[:2]
    out_image = np.full((crop, crop, 3), PAD_VALUE, dtype=np.uint8)
    out_image[:ch, :cw] = image
    out_masks = np.zeros((len(masks), crop, crop), dtype=bool)
    out_masks[:, :ch, :cw] = masks
    keep = out_masks.any(axis=(1, 2))
    return out_image, out_masks[keep]
