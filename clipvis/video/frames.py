"""Videos given as still frames: a folder of JPEG/PNG files (the YTVIS
`JPEGImages/<video>/` layout) or a zip of them.

Frames are ordered by natural sort (frame2 before frame10). All sizes are
checked from the image headers when the source is opened, so a folder with a
stray odd-sized frame, or frames beyond the pixel limit, are refused before
anything is decoded. A zip is checked from its directory before any member is
read: the number of entries, each member's declared size and compression
ratio; members are then read with a bounded stream (limits.py).
"""
from __future__ import annotations

import re
import struct
import zipfile
from pathlib import Path, PurePosixPath

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from clipvis.video.limits import VideoLimits
from clipvis.video.source import FrameTooLarge, Selection, VideoDecodeError, VideoSource

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


def _header_size(fileobj, label: str, limits: VideoLimits) -> tuple[int, int]:
    """(h, w) as the decoder will return it (EXIF rotation applied), header only;
    FrameTooLarge beyond the pixel limit."""
    try:
        with Image.open(fileobj) as im:
            w, h = im.size
            limits.check_pixels(w, h, label)
            # A PNG's EXIF may follow its pixels, and Pillow decodes the whole image to look for
            # it: read an orientation only where the header holds it.
            orient = 1 if im.format == "PNG" and "exif" not in im.info else im.getexif().get(_EXIF_ORIENTATION, 1)
    except FrameTooLarge:
        raise
    except Image.DecompressionBombError as e:  # PIL's own limit (179 MP) is above ours: say ours
        pixels = re.search(r"\((\d+) pixels\)", str(e))
        side = int(limits.max_pixels ** 0.5)
        raise FrameTooLarge(f"{label}: an image of {int(pixels.group(1)) / 1e6:.0f} MP is larger than this tool reads "
                            f"({side}x{side}, {limits.max_pixels / 1e6:.0f} MP); scale it down first" if pixels else
                            f"{label}: the image is larger than this tool reads ({e})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as e:
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
    """BGR, as OpenCV decodes it (EXIF orientation applied), or None."""
    return cv2.imread(data, cv2.IMREAD_COLOR) if isinstance(data, str) else cv2.imdecode(data, cv2.IMREAD_COLOR)


def bgr_to_rgb(bgr: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """The RGB frame at (h, w): shrunk first (area averaging), so a large frame is
    copied once at the small size rather than converted at its own."""
    if bgr.shape[:2] != tuple(hw):
        bgr = cv2.resize(bgr, (hw[1], hw[0]), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class _StillFrames(VideoSource):
    backend = "opencv-imread"

    def _setup(self, labels, sizes, fps, selection_args, resize, where, limits):
        if not labels:
            raise VideoDecodeError(f"{where}: holds no frames ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self.height, self.width = _check_sizes(sizes, labels, where)
        self.fps = float(fps) if fps else DEFAULT_FRAMES_FPS
        self.source_num_frames = len(labels)
        super().__init__(where, Selection.make(self.fps, **selection_args), resize, limits)

    def _read(self, i: int) -> np.ndarray | None:
        """Frame i as decoded (BGR), or None."""
        raise NotImplementedError

    def _decode(self):
        for i in self.selection.indices(self.source_num_frames):
            bgr = self._read(i)
            if bgr is None:
                self._stop_reason = f"{self._labels[i]} cannot be decoded"
                return
            if bgr.shape[:2] != (self.height, self.width):
                self._stop_reason = f"{self._labels[i]} decodes to {bgr.shape[1]}x{bgr.shape[0]}, not the header's size"
                return
            yield i, bgr_to_rgb(bgr, self.loaded_hw)


class FileListVideo(_StillFrames):
    """Frames given as a list of image files, in that order (e.g. the
    `file_names` of a YTVIS video); `names` are what `file_names` reports."""

    kind = "folder"

    def __init__(self, paths, selection_args: dict, resize, limits: VideoLimits, fps=None, names=None,
                 where: str | None = None):
        self._paths = [Path(p) for p in paths]
        self._names = list(names) if names is not None else [str(p) for p in self._paths]
        if len(self._names) != len(self._paths):
            raise ValueError(f"{len(self._paths)} frame files but {len(self._names)} names")
        where = where or (str(self._paths[0].parent) if self._paths else "frame list")
        for p in self._paths:
            if not p.exists():
                raise VideoDecodeError(f"{where}: frame {p} does not exist")
            if not p.is_file():  # a FIFO would block the reader forever, a device never end
                raise VideoDecodeError(f"{where}: frame {p} is not a regular file")
        self._labels = [p.name for p in self._paths]
        sizes = [_header_size(p, str(p), limits) for p in self._paths]
        self._setup(self._labels, sizes, fps, selection_args, resize, where, limits)

    def _source_names(self) -> list[str]:
        return self._names

    def _read(self, i):
        return _decode_image(str(self._paths[i]))


class FolderVideo(FileListVideo):
    def __init__(self, folder: Path, selection_args: dict, resize, limits: VideoLimits, fps=None):
        self.folder = Path(folder)
        try:
            entries = list(self.folder.iterdir())
        except OSError as e:
            raise VideoDecodeError(f"{self.folder}: the folder cannot be read ({e.strerror or e})") from None
        # Regular files only: a FIFO or device named *.jpg is skipped, never opened.
        files = sorted((p for p in entries if p.is_file() and _is_frame(p.name)), key=lambda p: natural_key(p.name))
        super().__init__(files, selection_args, resize, limits, fps=fps, where=str(self.folder),
                         names=[f"{self.folder.name}/{p.name}" for p in files])


def _unsafe(name: str) -> bool:
    # Absolute paths, drive letters and `..` would let a member land outside
    # the folder it is unpacked to: such a zip is refused whole.
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name) is not None or ".." in parts


def _zip_entries(path: Path) -> int:
    """Entries in a zip's directory, from its end record, before zipfile reads the
    directory (it builds an object per entry). -1 if the end record is not found."""
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 65557))  # the end record (22 bytes) plus the longest comment
        tail = f.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return -1
    entries = struct.unpack("<H", tail[at + 10:at + 12])[0]
    zip64 = tail.rfind(b"PK\x06\x06", 0, at)  # ZIP64: the count is in its own end record
    if entries == 0xFFFF and zip64 >= 0 and zip64 + 40 <= len(tail):
        entries = struct.unpack("<Q", tail[zip64 + 32:zip64 + 40])[0]
    return entries


class ZipVideo(_StillFrames):
    kind = "zip"

    def __init__(self, path: Path, selection_args: dict, resize, limits: VideoLimits, fps=None):
        self.path = Path(path)
        entries = _zip_entries(self.path)
        if entries > limits.zip_members:
            raise FrameTooLarge(f"{self.path}: the zip lists {entries:,} entries; at most {limits.zip_members:,} "
                                "are read (one video's frames per zip)")
        try:
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError):
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
            for n in members:
                self._check_member(zf.getinfo(n), limits)
            sizes = []
            for n in members:
                try:
                    with zf.open(n) as f:
                        sizes.append(_header_size(f, f"{self.path}:{n}", limits))
                except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as e:
                    raise VideoDecodeError(f"{self.path}:{n}: cannot be read from the zip ({e})") from None
        self._members = members
        self._member_bytes = {n: zf.getinfo(n).file_size for n in members}
        self._labels = members
        self._zip = None
        self._setup(members, sizes, fps, selection_args, resize, str(self.path), limits)

    def _check_member(self, info: zipfile.ZipInfo, limits: VideoLimits):
        where = f"{self.path}:{info.filename}"
        if info.file_size > limits.zip_member_bytes:
            raise FrameTooLarge(f"{where}: the member unpacks to {info.file_size / 2**20:,.0f} MB; a frame file may "
                                f"take at most {limits.zip_member_bytes / 2**20:,.0f} MB")
        if info.file_size > limits.zip_ratio_from and info.file_size > limits.zip_ratio * max(info.compress_size, 1):
            raise FrameTooLarge(f"{where}: the member unpacks {info.file_size / max(info.compress_size, 1):,.0f} "
                                f"times larger than it is stored (at most {limits.zip_ratio}x for frame images): "
                                "refusing a zip bomb")

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
        name = self._members[i]
        declared = self._member_bytes[name]
        try:
            with self._zip.open(name) as f:  # never more than the checked, declared size (+1 to see a lie)
                data = f.read(declared + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, EOFError, OSError):
            return None  # recorded as "cannot be decoded" where the frames stop
        if len(data) != declared:
            return None
        return _decode_image(np.frombuffer(data, dtype=np.uint8))
