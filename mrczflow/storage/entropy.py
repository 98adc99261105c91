"""How close the archive comes to the best any lossless coder can do."""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class EntropyBound:
    bits_per_pixel: float
    best_ratio: float


def entropy_bound(histogram: np.ndarray, bits_stored: int = 8) -> EntropyBound:
    """Shannon entropy of a count histogram and the best lossless ratio it allows.

    ``histogram[k]`` is the number of pixels with count ``k``. No lossless
    coder of independent pixels can beat ``bits_stored / entropy``.
    """
    counts = np.asarray(histogram, dtype=np.float64)
    if counts.sum() <= 0:
        raise ValueError("empty histogram")
    p = counts[counts > 0] / counts.sum()
    bits = float(-(p * np.log2(p)).sum())
    return EntropyBound(bits, bits_stored / bits if bits > 0 else float("inf"))
