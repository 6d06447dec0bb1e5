"""Settings of a training run: plain frozen dataclasses, saved with the run so
that `--resume` continues exactly what was started."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .criterion import LossConfig
from .matcher import MatchCosts


@dataclass(frozen=True)
class ModelSpec:
    """Where the model comes from. With `init` (a released name or a checkpoint
    file) the whole model, CLIP included, is loaded from it; without, CLIP is
    `clip_model` with `clip_pretrained` weights (a tag or file; None = random)
    and the head is new, sized by HeadConfig's defaults and `head` overrides."""

    init: str | None = None
    clip_model: str | None = None
    clip_config: str | None = None
    clip_pretrained: str | None = None
    head: dict = field(default_factory=dict)  # HeadConfig overrides for a new head


@dataclass(frozen=True)
class AugmentConfig:
    """Large-scale jitter (Mask2Former's COCO recipe): flip, resize to a random
    scale of the crop size, crop (or pad) to a fixed square."""

    crop_size: int = 1024
    min_scale: float = 0.1
    max_scale: float = 2.0
    flip: bool = True


# The official schedule: lr x 0.1 at iterations 327778 and 355092 of 368750.
OFFICIAL_LR_STEPS = (327778 / 368750, 355092 / 368750)


@dataclass(frozen=True)
class TrainConfig:
    data: tuple[str, ...]
    image_roots: tuple[str, ...] = ()  # one for all sources, or one per source; default: each JSON's folder
    model: ModelSpec = field(default_factory=ModelSpec)
    max_iter: int = 2000
    batch_size: int = 2  # images per process and iteration
    lr: float = 1e-4
    weight_decay: float = 0.05  # none on norms and embeddings, as the official optimizer
    clip_grad: float = 0.01  # total gradient norm (official: full-model clipping at 0.01)
    lr_steps: tuple[float, ...] = OFFICIAL_LR_STEPS  # fractions of max_iter where lr drops
    lr_gamma: float = 0.1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    seed: int = 0
    amp: str = "auto"  # auto (fp16 on CUDA, off on CPU) | fp16 | bf16 | off
    num_workers: int = 4
    checkpoint_period: int = 1000
    log_period: int = 20

    def __post_init__(self):
        problems = []
        if not self.data:
            problems.append("give at least one --data file")
        if len(self.image_roots) not in (0, 1, len(self.data)):
            problems.append(f"{len(self.image_roots)} image roots for {len(self.data)} data files: "
                            "give one for all, or one per --data")
        for name in ("max_iter", "batch_size", "checkpoint_period", "log_period"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if self.amp not in ("auto", "fp16", "bf16", "off"):
            problems.append(f"amp must be auto, fp16, bf16 or off, not {self.amp!r}")
        a = self.augment
        if not 0 < a.min_scale <= a.max_scale or a.crop_size < 32:
            problems.append("need 0 < min_scale <= max_scale and crop_size >= 32")
        if problems:
            raise ValueError("; ".join(problems))

    def lr_at(self, iteration: int) -> float:
        """Step schedule: lr * gamma^(steps passed). A function of the iteration,
        so a resumed run needs no scheduler state."""
        passed = sum(iteration >= round(f * self.max_iter) for f in self.lr_steps)
        return self.lr * self.lr_gamma ** passed

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        loss = dict(d.pop("loss", {}))
        loss["match"] = MatchCosts(**loss.get("match", {}))
        return cls(data=tuple(d.pop("data")), image_roots=tuple(d.pop("image_roots", ())),
                   model=ModelSpec(**d.pop("model", {})), augment=AugmentConfig(**d.pop("augment", {})),
                   loss=LossConfig(**loss), lr_steps=tuple(d.pop("lr_steps", OFFICIAL_LR_STEPS)), **d)


# Settings that may change when a run is resumed: they do not change the result.
RESUMABLE_CHANGES = ("max_iter", "num_workers", "checkpoint_period", "log_period")


def resume_conflicts(saved: TrainConfig, new: TrainConfig) -> list[str]:
    """Settings of `new` that differ from the run being resumed (beyond RESUMABLE_CHANGES)."""
    a, b = saved.to_dict(), new.to_dict()
    return [f"{k}: {a[k]!r} in the run, {b[k]!r} now" for k in a if k not in RESUMABLE_CHANGES and a[k] != b[k]]
