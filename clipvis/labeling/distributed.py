"""torchrun support: who this process is, its device, and the few collective
steps a labelling run needs (share the plan, wait for all, then merge).

torchrun starts and watches the processes and sets RANK, WORLD_SIZE and
LOCAL_RANK; torch.distributed does the talking (NCCL between GPUs, gloo on
CPU). A plain `python -m clipvis label` is a world of one and touches neither.
"""
from __future__ import annotations

from datetime import timedelta

import torch
import torch.distributed as dist

from clipvis.distributed import Ranks, rank_device  # noqa: F401 - re-exported


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
