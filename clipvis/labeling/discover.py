"""Finding the videos of a dataset, in a fixed order with fixed ids.

Three layouts are understood:
- a folder (searched recursively) of video files and zips of frames;
- a frames layout such as YouTube-VIS `JPEGImages/<video>/00000.jpg`: every
  folder that holds images directly is one video (may mix with video files);
- a YouTube-VIS JSON: its `videos` list says which frames make each video
  (names relative to a frames root found next to the JSON, or `frames_root`).

Videos are ordered by natural sort of their relative path (JSON: as listed),
and numbered 1..N (JSON: the dataset's own ids, so the labels can be
evaluated against its ground truth). Each video also gets a `key`, a digest of
what identifies it, which names its work file: never a user's file name.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from clipvis.formats.validate import Where, check_videos, load_json
from clipvis.video import VIDEO_EXTENSIONS
from clipvis.video.frames import IMAGE_EXTENSIONS, natural_key

CONTAINER_EXTENSIONS = VIDEO_EXTENSIONS | {".zip"}


@dataclass(frozen=True)
class VideoJob:
    """One video to label.

    kind: "file" (video file or zip of frames, opened by the data layer),
    "folder" (a folder of frames) or "list" (frames listed by a JSON).
    prefix: the folder part of the output `file_names` ("<prefix>/<frame>"): a
      video file's relative path (extension included), a frame folder's relative path.
    """

    key: str
    video_id: int
    name: str  # shown to people: relative path, or "video <id>"
    kind: str
    path: str  # the file or folder; for "list", the frames root
    prefix: str = ""
    frame_files: tuple[str, ...] = ()  # "list": the JSON's file_names, relative to `path`
    size_hw: tuple[int, int] | None = None  # "list": the JSON's (height, width), checked on decode
    source_frames: int | None = None  # frames in the input, when known without decoding


def stable_key(identity: str) -> str:
    return hashlib.sha1(identity.encode("utf-8")).hexdigest()[:20]


def discover_videos(path, *, frames_root=None) -> tuple[list[VideoJob], str]:
    """(jobs, a one-line description of what was found). Raises ValueError
    (FileNotFoundError for a missing path) saying what PATH should be."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.is_file() and path.suffix.lower() == ".json":
        jobs = _from_ytvis_json(path, frames_root)
        return jobs, f"{path}: YouTube-VIS JSON, {len(jobs)} videos (frames under {jobs[0].path})"
    if frames_root is not None:
        raise ValueError("frames_root (--frames-root) only applies when videos (--videos) is a YouTube-VIS JSON")
    if path.is_file():
        if path.suffix.lower() not in CONTAINER_EXTENSIONS:
            raise ValueError(f"{path}: give a folder of videos, a JPEGImages/ folder, a YouTube-VIS JSON, "
                             "or one video file")
        return [_file_job(path, path.name, 1)], f"{path}: one video file"
    jobs = _from_folder(path)
    if not jobs:
        raise ValueError(f"{path}: holds no videos ({', '.join(sorted(CONTAINER_EXTENSIONS))}) "
                         f"and no folders of frames ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    files = sum(j.kind == "file" for j in jobs)
    return jobs, f"{path}: {files} video files, {len(jobs) - files} frame folders"


def _visible(name: str) -> bool:
    return not name.startswith(".") and name != "__MACOSX"


def _from_folder(root: Path) -> list[VideoJob]:
    found = []  # (relative posix path, kind, absolute path, frame count)
    for here, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if _visible(d)]
        rel_dir = PurePosixPath(Path(here).relative_to(root).as_posix())
        images = [f for f in files if _visible(f) and Path(f).suffix.lower() in IMAGE_EXTENSIONS]
        if images:
            # A folder of frames is one video; what lies below it is not searched.
            found.append((str(rel_dir), "folder", Path(here), len(images)))
            dirs[:] = []
        for f in files:
            if _visible(f) and Path(f).suffix.lower() in CONTAINER_EXTENSIONS:
                found.append((str(rel_dir / f), "file", Path(here) / f, None))
    found.sort(key=lambda item: natural_key(item[0]))
    jobs = []
    for n, (rel, kind, abs_path, count) in enumerate(found, start=1):
        if kind == "file":
            jobs.append(_file_job(abs_path, rel, n))
        else:
            # The layout's root itself may be the one frame folder ("."): name it by its own name.
            name = abs_path.name if rel == "." else rel
            jobs.append(VideoJob(key=stable_key(f"folder:{rel}"), video_id=n, name=name, kind="folder",
                                 path=str(abs_path), prefix=name, source_frames=count))
    return jobs


def _file_job(path: Path, rel: str, video_id: int) -> VideoJob:
    # Its frames' folder is its relative path, extension included: unique in any folder (frames.py).
    return VideoJob(key=stable_key(f"file:{rel}"), video_id=video_id, name=rel, kind="file",
                    path=str(path), prefix=rel)


def _from_ytvis_json(path: Path, frames_root) -> list[VideoJob]:
    obj = load_json(path)
    if not isinstance(obj, dict) or "videos" not in obj:
        raise ValueError(f"{path}: a YouTube-VIS JSON is an object with a 'videos' list")
    videos = list(check_videos(obj["videos"], Where(str(path))).values())
    if not videos:
        raise ValueError(f"{path}: the 'videos' list is empty")
    root = Path(frames_root) if frames_root is not None else _find_frames_root(path, videos[0]["file_names"][0])
    if not root.is_dir():
        raise FileNotFoundError(f"frames_root (--frames-root) {root}: no such folder")
    jobs = []
    for v in videos:
        names = tuple(v["file_names"])
        digest = stable_key("\n".join(names))
        jobs.append(VideoJob(key=stable_key(f"json:{v['id']}:{digest}"), video_id=int(v["id"]),
                             name=f"video {v['id']} ({PurePosixPath(names[0]).parent})", kind="list",
                             path=str(root), frame_files=names, size_hw=(int(v["height"]), int(v["width"])),
                             source_frames=len(names)))
    return jobs


def _find_frames_root(json_path: Path, first_frame: str) -> Path:
    """Where the official layouts keep the frames: `train.json` next to
    `train/JPEGImages/`, or the JSON inside the split folder."""
    here = json_path.parent
    candidates = [here / json_path.stem / "JPEGImages", here / "JPEGImages", here,
                  *sorted(here.glob("*/JPEGImages"))]
    for root in candidates:
        if (root / first_frame).is_file():
            return root
    tried = ", ".join(str(c) for c in dict.fromkeys(candidates))
    raise FileNotFoundError(f"{json_path}: cannot find its frames (looked for {first_frame} under {tried}); "
                            "pass frames_root (--frames-root), the folder its file_names are relative to")
