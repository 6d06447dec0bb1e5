"""Splitting the videos among torchrun ranks so each has about the same frames."""
from __future__ import annotations

import heapq
from typing import Sequence


def shard_by_frames(frame_counts: Sequence[int], world_size: int) -> list[list[int]]:
    """Indices of the items each rank takes: greedy longest-first (the LPT rule,
    within 4/3 of the best balance), each item to the least-loaded rank.

    Ties break by index and rank number, so every rank computes the same split.
    Each shard is returned in index order.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    loads = [(0, rank) for rank in range(world_size)]  # a heap of (frames, rank)
    shards: list[list[int]] = [[] for _ in range(world_size)]
    for i in sorted(range(len(frame_counts)), key=lambda i: (-frame_counts[i], i)):
        load, rank = heapq.heappop(loads)
        shards[rank].append(i)
        heapq.heappush(loads, (load + max(1, int(frame_counts[i])), rank))
    return [sorted(s) for s in shards]
