"""Training samples as a pure function of (seed, sample index).

Sample k of a run is record `perm_e[k mod N]` of epoch e = k // N (a seeded
permutation per epoch), augmented with a generator seeded by (seed, k). No
random state lives in the loader, its workers or the order they finish in, so
a resumed run draws exactly the samples an uninterrupted one would have.
Process `rank` of `world` takes samples (it * world + rank) * B + j at
iteration `it`, so ranks never repeat each other.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from .augment import large_scale_jitter
from .config import AugmentConfig


class TrainingSet(Dataset):
    def __init__(self, records, *, augment: AugmentConfig, seed: int = 0):
        self.records = records
        self.augment = augment
        self.seed = seed
        self._epoch, self._perm = -1, None

    def record_index(self, k: int) -> int:
        epoch, pos = divmod(k, len(self.records))
        if epoch != self._epoch:
            self._perm = np.random.default_rng([self.seed, 1, epoch]).permutation(len(self.records))
            self._epoch = epoch
        return int(self._perm[pos])

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(3, S, S) uint8 image, (N, S, S) bool masks."""
        rng = np.random.default_rng([self.seed, 2, k])
        image, masks = self.records[self.record_index(k)].load(rng)
        image, masks = large_scale_jitter(image, masks, rng, self.augment)
        return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))), torch.from_numpy(masks)


class IterationSampler(Sampler):
    """Sample indices for iterations start..stop-1 of one process, batch by batch."""

    def __init__(self, *, start: int, stop: int, batch_size: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch_size, self.rank, self.world = start, stop, batch_size, rank, world

    def __iter__(self):
        b = self.batch_size
        for it in range(self.start, self.stop):
            base = (it * self.world + self.rank) * b
            yield from range(base, base + b)

    def __len__(self) -> int:
        return max(0, self.stop - self.start) * self.batch_size


def collate(batch):
    """-> ((B, 3, S, S) uint8 images, list of (N_b, S, S) bool masks)."""
    return torch.stack([im for im, _ in batch]), [m for _, m in batch]
