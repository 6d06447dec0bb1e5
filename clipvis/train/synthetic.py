"""Generated training data: coloured shapes on textured backgrounds, written as
COCO instance JSON + PNG images or a YTVIS dataset + PNG frames.

For tests and benchmarks where no real data may be downloaded; the files go
through the same readers as real data. Rectangles and triangles are stored as
polygons, everything else (circles, ellipses, occluded shapes) as RLE, so both
COCO mask forms are exercised. Masks are rasterised first and the image is
painted from them, so masks and pixels agree exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_api

from clipvis.atomic import atomic_path, write_json
from clipvis.formats.rle import mask_to_rle
from clipvis.formats.ytvis import Annotation, Category, Video, YTVISDataset, write_dataset

KINDS = ("rectangle", "triangle", "circle", "ellipse")


@dataclass
class Shape:
    kind: str
    centre: np.ndarray  # (x, y)
    size: float
    params: np.ndarray  # kind-specific: aspect, rotation, vertex jitter
    colour: np.ndarray  # (3,) uint8
    velocity: np.ndarray  # (dx, dy) per frame

    def polygon(self, t: int = 0) -> list[float] | None:
        """Flat [x0, y0, x1, y1, ...] for polygonal kinds, None otherwise."""
        c = self.centre + t * self.velocity
        if self.kind == "rectangle":
            hw, hh = self.size, self.size * self.params[0]
            pts = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]])
        elif self.kind == "triangle":
            angles = self.params[1] + np.array([0, 2.1, 4.2]) + self.params[2:5] * 0.3
            pts = self.size * np.stack([np.cos(angles), np.sin(angles)], 1)
        else:
            return None
        return (pts + c).ravel().tolist()

    def mask(self, h: int, w: int, t: int = 0) -> np.ndarray:
        poly = self.polygon(t)
        if poly is not None:
            return np.ascontiguousarray(mask_api.decode(mask_api.merge(mask_api.frPyObjects([poly], h, w))), bool)
        cx, cy = self.centre + t * self.velocity
        ys, xs = np.mgrid[0:h, 0:w] + 0.5
        a, b = self.size, self.size * (self.params[0] if self.kind == "ellipse" else 1.0)
        return ((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2 <= 1.0


def random_shape(rng: np.random.Generator, h: int, w: int, *, moving: bool = False) -> Shape:
    size = rng.uniform(0.12, 0.3) * min(h, w)
    hue = rng.integers(6)
    colour = np.array([(230, 40, 40), (40, 200, 60), (40, 80, 230), (230, 210, 40), (220, 50, 220),
                       (40, 210, 220)][hue], dtype=np.int64) + rng.integers(-25, 26, 3)
    return Shape(kind=KINDS[rng.integers(len(KINDS))], centre=rng.uniform([0.15 * w, 0.15 * h], [0.85 * w, 0.85 * h]),
                 size=size, params=np.concatenate([[rng.uniform(0.5, 1.0), rng.uniform(0, 6.3)],
                                                   rng.uniform(-1, 1, 3)]),
                 colour=np.clip(colour, 0, 255).astype(np.uint8),
                 velocity=rng.uniform(-0.03, 0.03, 2) * min(h, w) if moving else np.zeros(2))


def textured_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Greyish stripes and noise: texture without the shapes' saturated colours."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    base = rng.uniform(60, 170)
    img = np.full((h, w), base, np.float32)
    for _ in range(3):
        theta, freq = rng.uniform(0, np.pi), rng.uniform(0.05, 0.4)
        img += rng.uniform(5, 25) * np.sin(freq * (xs * np.cos(theta) + ys * np.sin(theta)) + rng.uniform(0, 6.3))
    tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    img = img[..., None] * tint + rng.normal(0, 8, (h, w, 3)).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def render(background: np.ndarray, shapes: list[Shape], rng: np.random.Generator, t: int = 0
           ) -> tuple[np.ndarray, list[np.ndarray], list[bool]]:
    """Paint shapes in order (later ones occlude earlier ones). Returns the
    image, each shape's visible mask, and whether it is still its whole shape."""
    h, w = background.shape[:2]
    image = background.copy()
    visible, whole = [], []
    for s in shapes:
        m = s.mask(h, w, t)
        for i, prev in enumerate(visible):
            if (prev & m).any():
                visible[i] = prev & ~m
                whole[i] = False
        noise = rng.integers(-12, 13, (int(m.sum()), 3))
        image[m] = np.clip(s.colour.astype(np.int64) + noise, 0, 255).astype(np.uint8)
        visible.append(m)
        whole.append(True)
    return image, visible, whole


def _save_png(path: Path, image: np.ndarray):
    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG")


def write_coco_shapes(folder, *, num_images: int, height: int = 96, width: int = 128, seed: int = 0,
                      max_objects: int = 3) -> Path:
    """folder/images/*.png + folder/instances.json (COCO); returns the JSON path."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    images, anns = [], []
    for i in range(num_images):
        shapes = [random_shape(rng, height, width) for _ in range(rng.integers(1, max_objects + 1))]
        image, masks, whole = render(textured_background(rng, height, width), shapes, rng)
        name = f"images/{i:05d}.png"
        _save_png(folder / name, image)
        images.append({"id": i + 1, "file_name": name, "height": height, "width": width})
        for s, m, is_whole in zip(shapes, masks, whole):
            if not m.any():
                continue
            poly = s.polygon() if is_whole else None
            rle = mask_to_rle(m)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                         "segmentation": [poly] if poly is not None else rle,
                         "area": int(m.sum()), "bbox": [float(v) for v in mask_api.toBbox(
                             {"size": rle["size"], "counts": rle["counts"].encode()})]})
    path = folder / "instances.json"
    write_json(path, {"images": images, "annotations": anns,
                      "categories": [{"id": 1, "name": "shape"}]})
    return path


def write_ytvis_shapes(folder, *, num_videos: int, num_frames: int = 5, height: int = 96, width: int = 128,
                       seed: int = 0, max_objects: int = 3) -> Path:
    """folder/JPEGImages/<video>/*.png + folder/dataset.json (YTVIS dataset
    form, moving shapes; null where a shape is hidden or gone)."""
    folder = Path(folder)
    rng = np.random.default_rng(seed)
    videos, anns = [], []
    for v in range(num_videos):
        shapes = [random_shape(rng, height, width, moving=True) for _ in range(rng.integers(1, max_objects + 1))]
        background = textured_background(rng, height, width)
        names, per_frame = [], []
        for t in range(num_frames):
            image, masks, _ = render(background, shapes, rng, t)
            names.append(f"video{v + 1:03d}/{t:05d}.png")
            _save_png(folder / "JPEGImages" / names[-1], image)
            per_frame.append(masks)
        videos.append(Video(id=v + 1, width=width, height=height, file_names=names))
        for k in range(len(shapes)):
            track = [per_frame[t][k] if per_frame[t][k].any() else None for t in range(num_frames)]
            if any(m is not None for m in track):
                anns.append(Annotation.from_masks(id=len(anns) + 1, video_id=v + 1, category_id=1, masks=track))
    path = folder / "dataset.json"
    write_dataset(path, YTVISDataset(videos=videos, categories=[Category(id=1, name="shape")], annotations=anns))
    return path
