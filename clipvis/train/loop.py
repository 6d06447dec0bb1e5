"""The training loop: AdamW on the head, full-model gradient clipping, AMP on
CUDA, checkpoints that resume exactly, DistributedDataParallel under torchrun.

    result = train(TrainConfig(data=("instances.json",), model=ModelSpec(init="clipvis_convnext_b_lvis")),
                   out="runs/ft")
    predictor = load_predictor(str(result.weights))

Under `torchrun --nproc_per_node N -m clipvis train ...` every process trains
on its own samples (batch_size each) and rank 0 writes the files.
"""
from __future__ import annotations

import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from clipvis.distributed import Ranks, rank_device
from clipvis.preprocess import PIXEL_MEAN, PIXEL_STD

from .config import TrainConfig, resume_conflicts
from .criterion import LOSS_NAMES, SetCriterion
from .data import IterationSampler, TrainingSet, collate
from .history import write_loss_log
from .model import build_training_model, decoder_layers, param_groups
from .sources import load_sources
from .state import STATE_FILE, load_run, save_run, weights_name


class LossDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    weights: Path  # the last weights file written
    iteration: int  # iterations done
    history: list[dict]


def _setup_distributed(device: str | None) -> tuple[Ranks, torch.device]:
    """One GPU per process under torchrun (NCCL), gloo on the CPU."""
    ranks = Ranks.from_env()
    dev = rank_device(device, ranks)
    if ranks.world_size > 1:
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return ranks, dev


def _amp_dtype(amp: str, device: torch.device):
    if amp == "auto":
        return torch.float16 if device.type == "cuda" else None
    if amp == "fp16" and device.type != "cuda":
        raise ValueError("fp16 mixed precision needs a CUDA GPU; use --amp bf16 or off on the CPU")
    return {"off": None, "fp16": torch.float16, "bf16": torch.bfloat16}[amp]


def _resumable_state(out: Path, config: TrainConfig, resume: bool, log) -> dict | None:
    """The saved state to continue from, after checking it may be continued."""
    state = load_run(out)
    if state is None:
        return None
    if not resume:
        raise ValueError(f"{out} already holds a training run ({STATE_FILE}); pass --resume to "
                         "continue it, or choose another --out")
    saved = TrainConfig.from_dict(state["config"])
    conflicts = resume_conflicts(saved, config)
    if conflicts:
        raise ValueError("the settings differ from the run being resumed: " + "; ".join(conflicts))
    if saved.max_iter != config.max_iter:
        log(f"note: max_iter changes from {saved.max_iter} to {config.max_iter}; "
            "the learning-rate steps move with it")
    return state


def _iteration_seed(seed: int, iteration: int, rank: int) -> int:
    return (seed * 1_000_003 + iteration) * 1_009 + rank


class Trainer:
    def __init__(self, config: TrainConfig, out, *, resume: bool = False, device: str | None = "auto", log=None):
        self.out = Path(out)
        self.dist, self.device = _setup_distributed(device)
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.config = config
        self.state = _resumable_state(self.out, config, resume, self.log)
        self.start_iter = self.state["iteration"] if self.state else 0
        self.history: list[dict] = list(self.state["history"]) if self.state else []
        self.amp_dtype = _amp_dtype(config.amp, self.device)
        # The data first: a bad file should fail in seconds, not after building a large model.
        records, summaries = load_sources(config.data, config.image_roots)
        if self.dist.is_main:
            for s in summaries:
                self.log(s)
        self.dataset = TrainingSet(records, augment=config.augment, seed=config.seed)
        self._build_model()
        self.mean = torch.tensor(PIXEL_MEAN, device=self.device).view(1, 3, 1, 1)
        self.std = torch.tensor(PIXEL_STD, device=self.device).view(1, 3, 1, 1)

    def _build_model(self):
        c, state = self.config, self.state
        weights = str(self.out / state["weights"]) if state else None
        self.model, self.clip_model_name = build_training_model(c.model, weights=weights)
        self.model.to(self.device).train()  # the backbone keeps itself in eval mode
        if state is None and not c.model.init and not c.model.clip_pretrained and self.dist.is_main:
            self.log("warning: CLIP has random weights (no --init, no --clip-pretrained): "
                     "fine for tests and benchmarks, useless for a real model")
        self.criterion = SetCriterion(config=c.loss).to(self.device)
        # The whole model's forward runs; DDP syncs only the head's gradients (CLIP has none).
        self.net = self.model if self.dist.world_size == 1 else DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        self.params = [p for p in self.model.sem_seg_head.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(param_groups(self.model.sem_seg_head, weight_decay=c.weight_decay), lr=c.lr)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        if state is not None:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scaler.load_state_dict(state["scaler"])

    # ---- one iteration ---------------------------------------------------
    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def step(self, iteration: int, images: torch.Tensor, masks: list[torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimizer step; returns the detached weighted losses and 'total'."""
        c = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = c.lr_at(iteration)
        x = (images.to(self.device, non_blocking=True).float() - self.mean) / self.std
        targets = [m.to(self.device, non_blocking=True).float() for m in masks]
        generator = torch.Generator(device=self.device)
        generator.manual_seed(_iteration_seed(c.seed, iteration, self.dist.rank))
        with self._autocast():
            layers = decoder_layers(self.net(x, with_aux=True).decoder)
        losses = self.criterion(layers, targets, generator=generator)
        total = sum(losses.values())
        bad = (~torch.isfinite(total)).float()
        if self.dist.world_size > 1:
            dist.all_reduce(bad)  # every rank stops together, none waits forever in the gradient sync
        if bad.item():
            raise LossDiverged(f"the loss became NaN or infinite at iteration {iteration}; the last checkpoint "
                               f"in {self.out} is intact (try a lower --lr, or --amp off)")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        if c.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.params, c.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {"total": total.detach(), **{k: v.detach() for k, v in losses.items()}}

    # ---- the run ---------------------------------------------------------
    def run(self, *, stop_at: int | None = None) -> TrainResult:
        """Train up to max_iter, or stop after iteration `stop_at` with a
        checkpoint (continue later with resume=True)."""
        c = self.config
        end = c.max_iter if stop_at is None else min(stop_at, c.max_iter)
        loader = DataLoader(self.dataset, batch_size=c.batch_size, collate_fn=collate, num_workers=c.num_workers,
                            pin_memory=self.device.type == "cuda",
                            sampler=IterationSampler(start=self.start_iter, stop=end, batch_size=c.batch_size,
                                                     rank=self.dist.rank, world=self.dist.world_size))
        if self.dist.is_main:
            n = sum(p.numel() for p in self.params)
            self.log(f"training {n / 1e6:.2f}M parameters on {self.device} x {self.dist.world_size}, "
                     f"amp {self.amp_dtype or 'off'}, iterations {self.start_iter}..{end} of {c.max_iter}")
        weights = self.out / self.state["weights"] if self.state else None
        window = _Window()
        it = self.start_iter
        t_data = time.perf_counter()
        for images, masks in loader:
            window.data_time += time.perf_counter() - t_data
            window.add(self.step(it, images, masks))
            it += 1
            done = it == end
            if it % c.log_period == 0 or done:
                self._log(it, window)
                window = _Window()
            if it % c.checkpoint_period == 0 or done:
                weights = self._save(it)
            t_data = time.perf_counter()
        return TrainResult(weights=weights, iteration=it, history=self.history)

    def _log(self, it: int, window: "_Window"):
        means = window.means(self.dist.world_size)
        rec = {"iter": it, "lr": self.config.lr_at(it - 1), **means,
               "sec_per_iter": window.elapsed() / max(window.count, 1),
               "data_sec_per_iter": window.data_time / max(window.count, 1)}
        if self.device.type == "cuda":
            rec["max_mem_gb"] = torch.cuda.max_memory_allocated(self.device) / 2**30
        self.history.append(rec)
        if self.dist.is_main:
            eta = rec["sec_per_iter"] * (self.config.max_iter - it)
            parts = "  ".join(f"{k.removeprefix('loss_')} {rec[k]:.3f}" for k in LOSS_NAMES)
            self.log(f"iter {it}/{self.config.max_iter}  loss {rec['total']:.3f}  ({parts})  lr {rec['lr']:.2e}  "
                     f"{rec['sec_per_iter']:.2f} s/it  eta {eta / 60:.0f} min")

    def _save(self, it: int) -> Path:
        final = it == self.config.max_iter
        path = self.out / weights_name(it, final=final)
        if self.dist.is_main:
            save_run(self.out, model=self.model, clip_model_name=self.clip_model_name, iteration=it,
                     final=final, optimizer=self.optimizer, scaler=self.scaler,
                     config=self.config.to_dict(), history=self.history)
            write_loss_log(self.out, self.history)
            self.log(f"saved {path}")
        if self.dist.world_size > 1:
            dist.barrier()
        return path


class _Window:
    """Loss sums over one log period, kept on the device until the log line."""

    def __init__(self):
        self.sums: dict[str, torch.Tensor] = {}
        self.count = 0
        self.data_time = 0.0
        self.t0 = time.perf_counter()

    def add(self, losses: dict[str, torch.Tensor]):
        for k in ("total",) + LOSS_NAMES:
            self.sums[k] = self.sums.get(k, 0) + losses[k].float()
        self.count += 1

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def means(self, world: int) -> dict[str, float]:
        keys = list(self.sums)
        v = torch.stack([self.sums[k] for k in keys]) / max(self.count, 1)
        if world > 1:
            dist.all_reduce(v)
            v = v / world
        return {k: float(x) for k, x in zip(keys, v.tolist())}


def train(config: TrainConfig, out, *, resume: bool = False, device: str | None = "auto",
          stop_at: int | None = None, log=None) -> TrainResult:
    return Trainer(config, out, resume=resume, device=device, log=log).run(stop_at=stop_at)
