"""Flags of `python app.py`, each with an environment variable, so a Hugging
Face Space (which passes no flags) is configured by its settings alone."""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from clipvis.atomic import write_text
from clipvis.commands.model_args import add_model_arguments

from app.deployment import default_limits
from app.run_job import RunQueue
from app.session import Limits
from app.viewer.registry import ViewerRegistry

DEFAULT_WORKDIR = "./work"
DEFAULT_QUOTA_GB = 20.0  # a few long videos with their frames, analyses and history


def _env(name: str, default=None):
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_flag(name: str) -> bool:
    return _env(name, "0").lower() in ("1", "true", "yes", "on")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py", description="CLIP-VIS Studio: segment, track, correct "
                                "and export video instances in the browser.")
    g = p.add_argument_group("server")
    # Spaces set GRADIO_SERVER_NAME/PORT; ours take precedence.
    g.add_argument("--host", default=_env("CLIPVIS_HOST", _env("GRADIO_SERVER_NAME", "127.0.0.1")),
                   help="address to listen on; 0.0.0.0 for every interface (env CLIPVIS_HOST)")
    g.add_argument("--port", type=int, default=int(_env("CLIPVIS_PORT", _env("GRADIO_SERVER_PORT", 7860))),
                   help="port (env CLIPVIS_PORT)")
    g.add_argument("--share", action="store_true", default=_env_flag("CLIPVIS_SHARE"),
                   help="also serve through a public gradio.live link (env CLIPVIS_SHARE=1)")
    g.add_argument("--workdir", default=_env("CLIPVIS_WORKDIR"),
                   help=f"where sessions are kept; it must exist and be writable (default {DEFAULT_WORKDIR}, "
                        "made if missing) (env CLIPVIS_WORKDIR)")
    g.add_argument("--quota-gb", type=float, default=float(_env("CLIPVIS_QUOTA_GB", DEFAULT_QUOTA_GB)),
                   help="disk space one browser's sessions may take; a new load beyond it is refused "
                        f"(default {DEFAULT_QUOTA_GB:g}) (env CLIPVIS_QUOTA_GB)")
    limits = default_limits()  # larger off a Space than on one (app/deployment.py)
    g.add_argument("--max-frames", type=int, default=int(_env("CLIPVIS_MAX_FRAMES", limits.max_frames)),
                   help=f"most frames per session, after stride (default {limits.max_frames} here) "
                        "(env CLIPVIS_MAX_FRAMES)")
    g.add_argument("--max-seconds", type=float, default=float(_env("CLIPVIS_MAX_SECONDS", limits.max_seconds)),
                   help="most seconds of video per session, checked from the file's header before decoding; "
                        f"0: no limit (default {limits.max_seconds:g} here) (env CLIPVIS_MAX_SECONDS)")
    g.add_argument("--max-resolution", type=int,
                   default=int(_env("CLIPVIS_MAX_RESOLUTION", limits.max_resolution)),
                   help="frames are kept (and run) at most this many pixels on their short side, e.g. 480; "
                        f"0: as the video is (default {limits.max_resolution} here) (env CLIPVIS_MAX_RESOLUTION)")
    g.add_argument("--session-ttl-days", type=float,
                   default=float(_env("CLIPVIS_SESSION_TTL_DAYS", limits.session_ttl_days)),
                   help="remove sessions (and their uploads) not used for this many days, at start and every "
                        f"hour; 0: keep them (default {limits.session_ttl_days:g} here) (env CLIPVIS_SESSION_TTL_DAYS)")
    g.add_argument("--cache-examples", choices=("auto", "start", "lazy", "off"),
                   default=_env("CLIPVIS_CACHE_EXAMPLES", "auto"),
                   help="keep a run of each bundled example so a visitor opens it with tracks and no run: at start "
                        "(start), the first visitor's run (lazy), auto: start on a GPU, lazy on a CPU; or off "
                        "(env CLIPVIS_CACHE_EXAMPLES)")
    g.add_argument("--max-upload-mb", type=float, default=float(_env("CLIPVIS_MAX_UPLOAD_MB", 1024)),
                   help="largest upload in MB (env CLIPVIS_MAX_UPLOAD_MB)")
    g = p.add_argument_group("checkpoints the studio may load")
    g.add_argument("--checkpoint-dir", default=_env("CLIPVIS_CHECKPOINT_DIR"), metavar="DIR",
                   help="a folder of .pth / .safetensors files offered in the model list by file name, besides "
                        "--model / --checkpoint, the released checkpoints and the demo (env CLIPVIS_CHECKPOINT_DIR)")
    g.add_argument("--allow-checkpoint-paths", action="store_true", default=_env_flag("CLIPVIS_ALLOW_CHECKPOINT_PATHS"),
                   help="let users type the path of a checkpoint file on the server (never one in the upload, "
                        "temporary or session folders); off by default (env CLIPVIS_ALLOW_CHECKPOINT_PATHS=1)")
    add_model_arguments(p)
    g = p.add_argument_group("click to track (SAM 2)")
    g.add_argument("--sam-model", default=_env("CLIPVIS_SAM_MODEL"), metavar="REPO_OR_DIR",
                   help="the SAM 2 video model for click to track: a Hugging Face repository (default "
                        "facebook/sam2.1-hiera-tiny, downloaded into the Hub cache on the first click) or a "
                        "folder with its config.json and model.safetensors (env CLIPVIS_SAM_MODEL)")
    return p


@dataclass(frozen=True)
class StudioConfig:
    workdir: Path
    limits: Limits
    quota_bytes: float = DEFAULT_QUOTA_GB * 1e9
    sam_model: str | None = None  # None: $CLIPVIS_SAM_MODEL or the library's default
    device: str = "auto"
    session_ttl_days: float = 0.0  # 0: sessions never expire

    @classmethod
    def from_args(cls, args) -> "StudioConfig":
        return cls(workdir=Path(args.workdir or DEFAULT_WORKDIR).resolve(),
                   limits=Limits(max_frames=args.max_frames, max_upload_mb=args.max_upload_mb,
                                 max_seconds=max(0.0, args.max_seconds), max_resolution=max(0, args.max_resolution)),
                   session_ttl_days=max(0.0, args.session_ttl_days),
                   quota_bytes=max(0.0, float(args.quota_gb)) * 1e9,
                   sam_model=getattr(args, "sam_model", None), device=getattr(args, "device", "auto") or "auto")


class WorkdirError(ValueError):
    """A work folder the studio cannot keep sessions in; the message says why in one line."""


def prepare_workdir(args) -> Path:
    """The work folder, checked before anything starts: an explicit --workdir
    (or CLIPVIS_WORKDIR) must be an existing, writable folder; the default
    ./work is made if missing. Raises WorkdirError."""
    given = args.workdir
    path = Path(given or DEFAULT_WORKDIR).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise WorkdirError(f"--workdir {given or DEFAULT_WORKDIR} is a file, not a folder")
    if not path.exists():
        if given:
            raise WorkdirError(f"--workdir {given} does not exist: create it first (mkdir -p {given}) or pick another")
        try:
            path.mkdir(parents=True)
        except OSError as e:
            raise WorkdirError(f"cannot create the work folder {DEFAULT_WORKDIR} ({e.strerror})") from None
    probe = path / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise WorkdirError(f"--workdir {given or DEFAULT_WORKDIR} is not writable ({e.strerror})") from None
    return path


GRADIO_FILES = ".gradio"  # under the work folder: Gradio's uploads and the copies of files it serves
GRADIO_FILES_KEEP_SECONDS = 24 * 3600


def keep_gradio_files_in(workdir: Path) -> Path:
    """Make Gradio put uploads and served files under the work folder (not the
    system temp folder), and remove what it left there more than a day ago.
    Must run before the UI is built: components read the folder when made."""
    folder = Path(workdir) / GRADIO_FILES
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    cutoff = time.time() - GRADIO_FILES_KEEP_SECONDS
    for entry in folder.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        except OSError:
            continue
    return folder


def browser_secret(workdir: Path) -> str:
    """The key gr.BrowserState encrypts the browser's id with. Kept in the
    workdir: a random key per start would make every browser a stranger
    after a restart, and its sessions unreachable."""
    path = Path(workdir) / ".browser_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text(path, secrets.token_hex(32))
        os.chmod(path, 0o600)
    return path.read_text().strip()


def parse_args(argv=None):
    return build_parser().parse_args(argv)


@dataclass
class Studio:
    """What every handler needs: the settings, the (lazy) model, the queue of
    runs, and the viewer's tokens and render cache (app/viewer)."""

    config: StudioConfig
    service: object  # app.model_service.ModelService
    runs: RunQueue = field(default_factory=RunQueue)
    viewer: ViewerRegistry = field(default_factory=ViewerRegistry)
    prompts: object = None  # app.clicks.service.Prompts: SAM 2 (loaded on the first click), the clicks
    examples: object = None  # app.examples.ExampleCache: the bundled examples' kept runs (None: none)

    def __post_init__(self):
        if self.prompts is None:
            from app.clicks.service import Prompts, SamService
            self.prompts = Prompts(sam=SamService(self.config.sam_model, device=self.config.device))
