"""The predictors, loaded lazily on first use and then kept for the process.

`python app.py` must start (and importing, reviewing and correcting must
work) without any weights, so nothing here loads at construction. The first
run loads the chosen model under a lock.

Which checkpoints may load (issue 15): the configured model (`--model` /
`--checkpoint`, chosen by whoever started the server), the released ones of
the registry, the in-memory demo, and the files of the configured checkpoint
folder (`--checkpoint-dir`), listed by file name. A path typed in the browser
is refused unless the server runs with `--allow-checkpoint-paths`, and even
then never inside the upload, temporary or session folders, where a visitor
can place files. Every file loads with `torch.load(weights_only=True)` or as
safetensors anyway (clipvis/weights.py). Names shown to visitors are file
names, never server paths.

One video pass at a time: the accelerator is shared by all users, so passes
queue on `_inference` (Gradio's queue also limits the run event to one).
On a Hugging Face ZeroGPU Space only the network's forward pass runs under
`spaces.GPU`, a chunk of frames per grant (app/gpu.py).
"""
from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from clipvis import CHECKPOINTS, DEMO, CheckpointMismatch, InferenceConfig, UnknownCLIPModel, WeightsUnavailable
from clipvis import load_predictor
from clipvis.chunks import chunked_propagate
from clipvis.commands.model_args import inference_config, model_name

from app import gpu
from app.deployment import on_zero_gpu
from app.estimate import RunTimes

DEFAULT = "default"  # the configured model
CUSTOM = "custom"  # the dropdown entry that shows the path box
FOLDER = "folder:"  # + a file name of the checkpoint folder
TYPED = "path:"  # + a typed path (only with --allow-checkpoint-paths)
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors")
LOAD_ERRORS = (WeightsUnavailable, CheckpointMismatch, UnknownCLIPModel, ValueError, OSError)


@dataclass(frozen=True)
class ModelSettings:
    model: str  # the configured model: a registry name, "demo", or a file the server's owner named
    clip_model: str | None = None  # for checkpoint files (the registry's own models know theirs)
    clip_config: str | None = None
    device: str = "auto"
    config: InferenceConfig = InferenceConfig()
    checkpoint_dir: Path | None = None
    allow_paths: bool = False
    off_limits: tuple[Path, ...] = ()  # folders a typed path may never point into

    @classmethod
    def from_args(cls, args) -> "ModelSettings":
        """From `python app.py`'s flags (app/config.py)."""
        return cls(model=model_name(args), clip_model=args.clip_model, clip_config=args.clip_config,
                   device=args.device, config=inference_config(args),
                   checkpoint_dir=Path(args.checkpoint_dir).resolve() if args.checkpoint_dir else None,
                   allow_paths=args.allow_checkpoint_paths, off_limits=visitor_folders(args.workdir))


def visitor_folders(workdir) -> tuple[Path, ...]:
    """Where visitors' files land: Gradio's uploads (GRADIO_TEMP_DIR, else the
    system's temporary folder) and the studio's sessions."""
    folders = [tempfile.gettempdir(), os.environ.get("GRADIO_TEMP_DIR"), workdir]
    return tuple(Path(f).resolve() for f in folders if f)


class ModelService:
    def __init__(self, settings: ModelSettings, *, keep: int = 2, times: RunTimes | None = None):
        self.settings = settings
        self.times = times or RunTimes()  # measured seconds per frame, for the estimate shown before Run
        self.keep = keep  # predictors held at once (each is a full model)
        self._predictors: dict = {}
        self._load_lock = threading.Lock()
        self._inference = threading.Lock()

    @classmethod
    def from_args(cls, args, **kwargs) -> "ModelService":
        return cls(ModelSettings.from_args(args), **kwargs)

    @property
    def config(self) -> InferenceConfig:
        """The configured inference settings (a run may override the input size)."""
        return self.settings.config

    # ---- what may load ----------------------------------------------------
    def choices(self) -> list[tuple[str, str]]:
        """(label, value) for the model picker: the configured model first. Labels
        show names and file names only."""
        s = self.settings
        out = [(f"configured: {_shown(s.model)}", DEFAULT)]
        if s.model != DEMO:
            out.append((f"{DEMO} — a tiny random model to try the studio (its masks mean nothing)", DEMO))
        out += [(f"{c.name} — {c.title}", c.name) for c in CHECKPOINTS.values()]
        out += [(f"{name} (checkpoint folder)", FOLDER + name) for name in self.folder_checkpoints()]
        if s.allow_paths:
            out.append(("checkpoint path on the server…", CUSTOM))
        return out

    def folder_checkpoints(self) -> list[str]:
        folder = self.settings.checkpoint_dir
        if folder is None or not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir()
                      if p.is_file() and p.suffix.lower() in CHECKPOINT_SUFFIXES and not p.name.startswith("."))

    def spec(self, choice: str, custom_path: str = "") -> str:
        """The key a model is loaded and remembered under; ValueError for one that may not load."""
        if choice in (None, "", DEFAULT):
            return DEFAULT
        if choice == DEMO or choice in CHECKPOINTS:
            return choice
        if isinstance(choice, str) and choice.startswith(FOLDER):
            self._folder_file(choice[len(FOLDER):])
            return choice
        if choice == CUSTOM:
            return TYPED + str(self._typed_path(custom_path))
        raise ValueError(f"unknown model {_shown(str(choice))!r}")

    def _folder_file(self, name: str) -> Path:
        if name not in self.folder_checkpoints():  # a listed name, never a path from the client
            raise ValueError(f"no checkpoint {_shown(name)!r} in this server's checkpoint folder")
        return self.settings.checkpoint_dir / name

    def _typed_path(self, text: str) -> Path:
        if not self.settings.allow_paths:
            raise ValueError("checkpoint paths are off on this server (start it with --allow-checkpoint-paths); "
                             "pick a model from the list")
        if not (text or "").strip():
            raise ValueError("type the path of a checkpoint file on the server")
        path = Path(text.strip()).expanduser()
        if not path.is_absolute():
            raise ValueError("type the checkpoint's absolute path on the server")
        real = path.resolve()
        if any(real == d or d in real.parents for d in self.settings.off_limits):
            raise ValueError(f"{path.name}: checkpoints are never loaded from the upload, temporary or session "
                             "folders; ask the server's owner to put it in the checkpoint folder")
        if real.suffix.lower() not in CHECKPOINT_SUFFIXES or not real.is_file():
            raise ValueError(f"{path.name}: not a checkpoint file on the server ({', '.join(CHECKPOINT_SUFFIXES)})")
        return real

    # ---- loading ------------------------------------------------------------
    def loaded(self, spec: str) -> bool:
        return spec in self._predictors

    def get(self, spec: str = DEFAULT):
        """The predictor for `spec`, loading it once. If it cannot load, the error
        (WeightsUnavailable, CheckpointMismatch, ...) has a message fit for a
        visitor; the server's log has the whole one."""
        with self._load_lock:
            if spec not in self._predictors:
                predictor = self._load(spec)
                while len(self._predictors) >= self.keep:
                    gpu.PREDICTORS.pop(self._gpu_key(next(iter(self._predictors))), None)
                    self._predictors.pop(next(iter(self._predictors)))
                self._predictors[spec] = predictor
                if on_zero_gpu():  # before a GPU worker forks: it finds the predictor by this key
                    gpu.PREDICTORS[self._gpu_key(spec)] = predictor
            return self._predictors[spec]

    def _load(self, spec: str):
        s = self.settings
        try:
            if spec == DEFAULT:
                return load_predictor(s.model, clip_model=s.clip_model, clip_config=s.clip_config,
                                      device=s.device, config=s.config)
            if spec == DEMO or spec in CHECKPOINTS:  # their own CLIP
                return load_predictor(spec, device=s.device, config=s.config)
            if spec.startswith(FOLDER):
                path = self._folder_file(spec[len(FOLDER):])
            elif spec.startswith(TYPED):  # checked again: a session may outlive the setting
                path = self._typed_path(spec[len(TYPED):])
            else:
                raise ValueError("the model this was made with is not offered on this server")
            return load_predictor(str(path), clip_model=s.clip_model, clip_config=s.clip_config,
                                  device=s.device, config=s.config)
        except LOAD_ERRORS as e:
            # The whole message to the server's log; the visitor's names no server folder.
            print(f"clipvis studio: model {spec!r} did not load: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            shown = _shown(s.model if spec == DEFAULT else spec)
            raise type(e)(f"{shown}: {without_paths(str(e))}") from None

    # ---- running --------------------------------------------------------------
    def analyse(self, spec: str, frames, *, num_frames: int, min_size: int, cancel, on_progress, on_wait=None):
        """One video pass; returns the engine's VideoAnalysis. Raises Cancelled."""
        if not self._inference.acquire(blocking=False):
            if on_wait is not None:
                on_wait()
            self._inference.acquire()
        try:
            started = time.perf_counter()
            analysis = _analyse(self.get(spec), self._gpu_key(spec), frames, num_frames, min_size, cancel,
                                on_progress)
            self.times.record(self._timed_as(spec), self.device_kind(), num_frames, time.perf_counter() - started,
                              min_size)
            return analysis
        finally:
            self._inference.release()

    def _gpu_key(self, spec: str) -> str:
        return f"{id(self)}:{spec}"  # plain text: what crosses to a ZeroGPU worker

    def device_kind(self) -> str:
        """"zero-gpu", "cuda" or "cpu": what the estimate's seconds per frame are kept for."""
        if on_zero_gpu():
            return "zero-gpu"
        if self.settings.device not in (None, "", "auto"):
            return "cuda" if str(self.settings.device).startswith("cuda") else "cpu"
        import torch
        return "cuda" if torch.cuda.is_available() else "cpu"

    def estimate(self, spec: str, num_frames: int, min_size: int) -> str:
        """How long a run of `num_frames` would take here: 'about 25 s for 10 frames (…)'."""
        return self.times.describe(num_frames, self._timed_as(spec), self.device_kind(), min_size)

    def _timed_as(self, spec: str) -> str:
        return self.settings.model if spec == DEFAULT else spec  # "demo" has its own prior

    def classify(self, spec: str, analysis, vocabulary):
        """Classify a stored analysis with a vocabulary (fast: no video pass).
        Must be the model that made the analysis: the CLIP spaces differ."""
        return self.get(spec).classify(analysis, vocabulary)


def _analyse(predictor, key, frames, num_frames, min_size, cancel, on_progress):
    # The input size is this run's own setting: the shared predictor's config is not touched.
    if not on_zero_gpu():
        return predictor.analyse(frames, num_frames=num_frames, progress=on_progress, cancel=cancel,
                                 min_size=int(min_size))
    # ZeroGPU: the GPU is held for the network only, a chunk of frames per grant (app/gpu.py).
    gpu.PREDICTORS.setdefault(key, predictor)
    state = predictor.init_state(min_size=int(min_size))
    forward = gpu.gpu_forward()
    run_chunk = lambda resized, sizes, precision: forward(key, resized, sizes, precision)  # noqa: E731
    for p in chunked_propagate(predictor, frames, state, run_chunk=run_chunk, num_frames=num_frames,
                               chunk_frames=gpu.chunk_frames(state.config.window, int(min_size)), cancel=cancel):
        on_progress(p)
    return predictor.finish(state)


def _shown(spec: str) -> str:
    """A model as a visitor may see it: a name, or a file's name without its folders."""
    for prefix in (FOLDER, TYPED):
        if spec.startswith(prefix):
            spec = spec[len(prefix):]
    return spec if spec in CHECKPOINTS or spec in (DEMO, DEFAULT) else Path(spec).name


_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])(?:~|[A-Za-z]:)?[/\\](?:[^\s'\"(),;:/\\]+[/\\])*([^\s'\"(),;:/\\]*)")


def without_paths(message: str) -> str:
    """A message with every absolute path cut to its last part ("…/name")."""
    return _ABSOLUTE_PATH.sub(lambda m: "…/" + m.group(1), message)
