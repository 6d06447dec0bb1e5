"""torchrun support: who this process is, its device, and the few collective
steps a labelling run needs (share the plan, wait for all, then merge).

torchrun starts and watches the processes and sets RANK, WORLD_SIZE and
LOCAL_RANK; torch.distributed does the talking (NCCL between GPUs, gloo on
CPU). A plain `python -m clipvis label` is a world of one and touches neither.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from clipvis.build import resolve_device


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, env=None) -> "Ranks":
        env = os.environ if env is None else env
        try:
            ranks = cls(rank=int(env.get("RANK", 0)), world_size=int(env.get("WORLD_SIZE", 1)),
                        local_rank=int(env.get("LOCAL_RANK", 0)))
        except ValueError:
            raise ValueError("RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them)") from None
        if not 0 <= ranks.rank < ranks.world_size:
            raise ValueError(f"RANK={ranks.rank} is outside WORLD_SIZE={ranks.world_size}")
        return ranks


def rank_device(requested: str | None, ranks: Ranks) -> torch.device:
    """The device of this process: under torchrun, `auto` and `cuda` mean
    this rank's own GPU, cuda:LOCAL_RANK."""
    device = resolve_device(requested)
    if ranks.world_size > 1 and device.type == "cuda" and requested in (None, "", "auto", "cuda"):
        if ranks.local_rank >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {ranks.local_rank} needs a GPU of its own, but this machine has "
                             f"{torch.cuda.device_count()}; start at most that many processes per node")
        device = torch.device("cuda", ranks.local_rank)
    return device


class ProcessGroup:
    """The run's process group; with one process every step is a no-op."""

    def __init__(self, ranks: Ranks, device: torch.device, *, timeout_minutes: float = 24 * 60):
        self.ranks = ranks
        self.device = device
        self.active = ranks.world_size > 1
        if self.active:
            if device.type == "cuda":
                torch.cuda.set_device(device)
            # Ranks finish their shards at different times; the barrier before
            # the merge must outwait the slowest one, hence the long timeout.
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo",
                                    timeout=timedelta(minutes=timeout_minutes))

    def share(self, obj):
        """Rank 0's `obj`, on every rank."""
        if not self.active:
            return obj
        box = [obj if self.ranks.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self):
        if self.active:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def close(self):
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
