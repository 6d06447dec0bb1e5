"""Who this process is under torchrun, and its device.

torchrun starts and watches the processes and sets RANK, WORLD_SIZE and
LOCAL_RANK; torch.distributed does the talking (NCCL between GPUs, gloo on
CPU). Shared by the batch labeller and the trainer. A plain run is a world of
one and touches neither.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch

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
