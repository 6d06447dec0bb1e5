"""Temporal topK-enhanced matching (CLIP-VIS, Sec. III-C).

Queries of a new frame are aligned to the queries of the frames before it. A
memory keeps the aligned query embeddings of the last `memory_size` frames.
For a new frame, each memory entry gives a Hungarian assignment on
1 - cosine; the `top_k` entries with the lowest matched cost are averaged,
each weighted by its position in memory (i + 1, oldest = 0), and the
assignment is solved once more on that average.
"""
from __future__ import annotations

from collections import deque

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


class TopKMatcher:
    def __init__(self, *, memory_size: int = 9, top_k: int = 5):
        if memory_size < 1 or top_k < 1:
            raise ValueError("memory_size and top_k must be at least 1")
        self.memory_size = memory_size
        self.top_k = top_k
        self.memory: deque[torch.Tensor] = deque(maxlen=memory_size)
        self.last_used_small_memory_rule = False

    def reset(self):
        self.memory.clear()

    def __call__(self, embeddings: torch.Tensor) -> np.ndarray:
        """embeddings: (Q, C) raw query embeddings of the next frame.

        Returns perm (Q,) with aligned[q] = raw[perm[q]]; the aligned embeddings
        join the memory. The first frame keeps its order.
        """
        embeddings = embeddings.detach().float().cpu()
        if not self.memory:
            perm = np.arange(embeddings.shape[0])
        else:
            perm = self._match(embeddings)
        self.memory.append(embeddings[torch.from_numpy(perm)])
        return perm

    def _match(self, cur: torch.Tensor) -> np.ndarray:
        cur = cur / cur.norm(dim=1, keepdim=True)
        costs, weighted, perms = [], [], []
        for i, mem in enumerate(self.memory):
            c = (1 - cur @ (mem / mem.norm(dim=1, keepdim=True)).T).numpy()  # (cur, mem)
            rows, cols = linear_sum_assignment(c.T)  # memory slot -> current query
            perms.append(cols)
            costs.append(float(np.float32(c[cols, rows].sum(dtype=np.float32))))
            weighted.append(c * (i + 1))
        costs = np.asarray(costs, dtype=np.float32)
        order = np.argsort(costs, kind="stable")
        if len(costs) < self.top_k:
            # Official rule: with fewer entries than K, take the single best entry's assignment.
            self.last_used_small_memory_rule = True
            return perms[order[0]]
        self.last_used_small_memory_rule = False
        mean = np.stack([weighted[j] for j in order[: self.top_k]]).mean(0)
        return linear_sum_assignment(mean.T)[1]
