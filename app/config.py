"""Flags of `python app.py`, each with an environment variable, so a Hugging
Face Space (which passes no flags) is configured by its settings alone."""
from __future__ import annotations

import argparse
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from clipvis.atomic import write_text
from clipvis.commands.model_args import add_model_arguments

from app.run_job import RunQueue
from app.session import Limits
from app.viewer.registry import ViewerRegistry

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


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
    g.add_argument("--workdir", default=_env("CLIPVIS_WORKDIR", "./work"),
                   help="where sessions are kept (env CLIPVIS_WORKDIR)")
    g.add_argument("--max-frames", type=int, default=int(_env("CLIPVIS_MAX_FRAMES", 2000)),
                   help="most frames per session, after stride (env CLIPVIS_MAX_FRAMES)")
    g.add_argument("--max-upload-mb", type=float, default=float(_env("CLIPVIS_MAX_UPLOAD_MB", 1024)),
                   help="largest upload in MB (env CLIPVIS_MAX_UPLOAD_MB)")
    g.add_argument("--allow-custom-checkpoint", action="store_true",
                   default=_env_flag("CLIPVIS_ALLOW_CUSTOM_CHECKPOINT"),
                   help="let users type a checkpoint path on the server; on by default only when listening on "
                        "localhost, since a .pth file can run code (env CLIPVIS_ALLOW_CUSTOM_CHECKPOINT=1)")
    add_model_arguments(p)
    return p


@dataclass(frozen=True)
class StudioConfig:
    workdir: Path
    limits: Limits
    allow_custom_checkpoint: bool

    @classmethod
    def from_args(cls, args) -> "StudioConfig":
        return cls(workdir=Path(args.workdir).resolve(),
                   limits=Limits(max_frames=args.max_frames, max_upload_mb=args.max_upload_mb),
                   allow_custom_checkpoint=args.allow_custom_checkpoint or
                   (args.host in LOCAL_HOSTS and not args.share))


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
