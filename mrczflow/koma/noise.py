"""Correlated noise between the frames of a stack (paper Eq. 7): the fixed-pattern noise KOMA removes.

The workflow reports it per stack before and after correction; the
benchmarks score every method with it.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class CorrelationAccumulator:
    """Correlated noise (paper Eq. 7) of frames added one at a time, for steps that stream frames.

    Holds one frame-sized float64 sum of standardised frames.
    """

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.n = 0

    def add(self, frame: np.ndarray) -> None:
        z = np.asarray(frame, dtype=np.float64).ravel()
        z = z - z.mean()
        norm = np.sqrt(np.dot(z, z))
        if norm == 0:
            raise ValueError("a constant frame has no defined correlation")
        z /= norm
        if self.total is None:
            self.total = z
        else:
            self.total += z
        self.n += 1

    @property
    def value(self) -> float:
        if self.n < 2:
            raise ValueError("correlated noise needs at least two frames")
        return float((np.dot(self.total, self.total) - self.n) / (self.n * (self.n - 1)))


def correlated_noise(frames: np.ndarray | Iterable[np.ndarray]) -> float:
    """Mean Pearson correlation (paper Eq. 7) over all pairs of frames of one stack.

    Fixed-pattern noise (gain errors, hot pixels, read-out lines) is the same
    in every frame and so correlates them; shot noise does not. Uses
    ``sum_{i<j} <z_i, z_j> = (|sum z_i|^2 - sum |z_i|^2) / 2`` on
    standardised frames, so the cost is linear in the number of frames.
    Holds two frame-sized float64 arrays.
    """
    accumulator = CorrelationAccumulator()
    for frame in frames:
        accumulator.add(frame)
    return accumulator.value
