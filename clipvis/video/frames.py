"""Videos given as still frames: a folder of JPEG/PNG files (the YTVIS
`JPEGImages/<video>/` layout) or a zip of them.

Frames are ordered by natural sort (frame2 before frame10). All sizes are
checked from the image headers when the source is opened, so a folder with a
stray odd-sized frame is refused before anything is decoded.
"""
from __future__ import annotations

import re
import zipfile
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from clipvis.video.source import Selection, VideoDecodeError, VideoSource

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
# Frame folders carry no frame rate. YouTube-VIS frames are every 5th frame
# of 30 fps video, so 6 fps plays them at their real speed.
DEFAULT_FRAMES_FPS = 6.0
_EXIF_ORIENTATION = 274  # EXIF tag; values 5-8 swap width and height


def natural_key(name: str):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


def _is_frame(name: str) -> bool:
    p = PurePosixPath(name)
    return (p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
            and "__MACOSX" not in p.parts)


def _header_size(fileobj, label: str) -> tuple[int, int]:
    """(h, w) as the decoder will return it (EXIF rotation applied), header only."""
    try:
        with Image.open(fileobj) as im:
            w, h = im.size
            orient = im.getexif().get(_EXIF_ORIENTATION, 1)
    except (UnidentifiedImageError, OSError) as e:
        raise VideoDecodeError(f"{label}: not a readable image ({e})") from None
    return (w, h) if orient in (5, 6, 7, 8) else (h, w)


def _check_sizes(sizes, labels, where: str) -> tuple[int, int]:
    first = sizes[0]
    for size, label in zip(sizes, labels):
        if size != first:
            raise VideoDecodeError(
                f"{where}: frames differ in size: {label} is {size[1]}x{size[0]} but "
                f"{labels[0]} is {first[1]}x{first[0]} (width x height); all frames must match")
    return first


def _decode_image(data: np.ndarray | str) -> np.ndarray | None:
    bgr = cv2.imread(data, cv2.IMREAD_COLOR) if isinstance(data, str) else cv2.imdecode(data, cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class _StillFrames(VideoSource):
    backend = "opencv-imread"

    def _setup(self, labels, sizes, fps, selection_args, resize, where):
        if not labels:
            raise VideoDecodeError(f"{where}: holds no frames ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.height, self.width = _check_sizes(sizes, labels, where)
        self.fps = float(fps) if fps else DEFAULT_FRAMES_FPS
        self.source_num_frames = len(labels)
        super().__init__(where, Selection.make(self.fps, **selection_args), resize)

    def _read(self, i: int) -> np.ndarray | None:
        raise NotImplementedError

    def _decode(self):
        for i in self.selection.indices(self.source_num_frames):
            rgb = self._read(i)
            if rgb is None:
                self._stop_reason = f"{self._labels[i]} cannot be decoded"
                return
            if rgb.shape[:2] != (self.height, self.width):
                self._stop_reason = f"{self._labels[i]} decodes to {rgb.shape[1]}x{rgb.shape[0]}, not the header's size"
                return
            yield i, rgb


class FileListVideo(_StillFrames):
    """Frames given as a list of image files, in that order (e.g. the
    `file_names` of a YTVIS video); `names` are what `file_names` reports."""

    kind = "folder"

    def __init__(self, paths, selection_args: dict, resize, fps=None, names=None, where: str | None = None):
        self._paths = [Path(p) for p in paths]
        self._names = list(names) if names is not None else [str(p) for p in self._paths]
        if len(self._names) != len(self._paths):
            raise ValueError(f"{len(self._paths)} frame files but {len(self._names)} names")
        where = where or (str(self._paths[0].parent) if self._paths else "frame list")
        missing = next((p for p in self._paths if not p.is_file()), None)
        if missing is not None:
            raise VideoDecodeError(f"{where}: frame {missing} does not exist")
        self._labels = [p.name for p in self._paths]
        sizes = [_header_size(p, str(p)) for p in self._paths]
        self._setup(self._labels, sizes, fps, selection_args, resize, where)

    def _source_names(self) -> list[str]:
        return self._names

    def _read(self, i):
        return _decode_image(str(self._paths[i]))


class FolderVideo(FileListVideo):
    def __init__(self, folder: Path, selection_args: dict, resize, fps=None):
        self.folder = Path(folder)
        files = sorted((p for p in self.folder.iterdir() if p.is_file() and _is_frame(p.name)),
                       key=lambda p: natural_key(p.name))
        super().__init__(files, selection_args, resize, fps=fps, where=str(self.folder),
                         names=[f"{self.folder.name}/{p.name}" for p in files])


def _unsafe(name: str) -> bool:
    # Absolute paths, drive letters and `..` would let a member land outside
    # the folder it is unpacked to: such a zip is refused whole.
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None or ".." in parts


class ZipVideo(_StillFrames):
    kind = "zip"

    def __init__(self, path: Path, selection_args: dict, resize, fps=None):
        self.path = Path(path)
        try:
            zf = zipfile.ZipFile(self.path)
        except zipfile.BadZipFile:
            raise VideoDecodeError(f"{self.path}: not a zip file") from None
        with zf:
            names = zf.namelist()
            bad = next((n for n in names if _unsafe(n)), None)
            if bad is not None:
                raise VideoDecodeError(f"{self.path}: member {bad!r} climbs out of the zip's folder; refusing the zip")
            members = sorted((n for n in names if not n.endswith("/") and _is_frame(n)), key=natural_key)
            folders = sorted({str(PurePosixPath(n).parent) for n in members})
            if len(folders) > 1:
                raise VideoDecodeError(f"{self.path}: frames sit in several folders ({', '.join(folders[:4])}); "
                                       "put one video's frames in one folder per zip")
            sizes = []
            for n in members:
                with zf.open(n) as f:
                    sizes.append(_header_size(f, f"{self.path}:{n}"))
        self._members = members
        self._labels = members
        self._zip = None
        self._setup(members, sizes, fps, selection_args, resize, str(self.path))

    def _source_names(self) -> list[str]:
        # YTVIS names frames <video>/<file>; frames at the zip's root take the zip's name as folder.
        return [n if "/" in n else f"{self.path.stem}/{n}" for n in self._members]

    def _decode(self):
        with zipfile.ZipFile(self.path) as zf:
            self._zip = zf
            try:
                yield from super()._decode()
            finally:
                self._zip = None

    def _read(self, i):
        data = np.frombuffer(self._zip.read(self._members[i]), dtype=np.uint8)
        return _decode_image(data)
