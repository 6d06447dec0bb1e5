"""Shards balanced by frame count (greedy longest-first)."""
from __future__ import annotations

import itertools

from hypothesis import given, strategies as st

from clipvis.labeling import shard_by_frames


def test_longest_first_balances_a_known_case():
    # Longest-first: 9->r0, 8->r1, 7->r1 (8<9), 6->r0, 5->r0 or r1 ... loads end equal.
    shards = shard_by_frames([5, 9, 7, 8, 6, 5], 2)
    loads = [sum([5, 9, 7, 8, 6, 5][i] for i in s) for s in shards]
    assert sorted(loads) == [20, 20]
    assert all(s == sorted(s) for s in shards)


def _best_max_load(counts, world):
    """Brute force over every assignment (small inputs only)."""
    return min(max(sum(c for c, r in zip(counts, assign) if r == rank) for rank in range(world))
               for assign in itertools.product(range(world), repeat=len(counts)))


@given(st.lists(st.integers(1, 500), max_size=7), st.integers(1, 3))
def test_every_video_once_and_within_the_lpt_bound(counts, world):
    shards = shard_by_frames(counts, world)
    assert len(shards) == world
    assert sorted(i for s in shards for i in s) == list(range(len(counts)))
    if counts:
        # Graham's bound for longest-first: at most (4/3 - 1/(3m)) of the best split.
        worst = max(sum(counts[i] for i in s) for s in shards)
        assert worst <= (4 / 3 - 1 / (3 * world)) * _best_max_load(counts, world) + 1e-9
    assert shard_by_frames(counts, world) == shards  # every rank computes the same split


def test_many_videos_spread_evenly():
    counts = [(i * 37) % 100 + 1 for i in range(1000)]
    loads = [sum(counts[i] for i in s) for s in shard_by_frames(counts, 8)]
    assert max(loads) - min(loads) <= max(counts)
