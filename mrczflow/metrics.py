"""Quality scores for storage and correction, against simulator ground truth.

Each function is small, takes numpy arrays and returns plain numbers, so a
benchmark can print them and a test can bound them.
"""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True)
class DetectionScore:
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def detection_score(predicted: np.ndarray, truth: np.ndarray) -> DetectionScore:
    """Precision, recall and F1 of a boolean outlier mask against the true mask.

    An empty prediction has precision 1; an empty truth has recall 1.
    """
    predicted = np.asarray(predicted, dtype=bool)
    truth = np.asarray(truth, dtype=bool)
    if predicted.shape != truth.shape:
        raise ValueError(f"mask shapes differ: {predicted.shape} vs {truth.shape}")
    tp = int(np.count_nonzero(predicted & truth))
    fp = int(np.count_nonzero(predicted & ~truth))
    fn = int(np.count_nonzero(~predicted & truth))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return DetectionScore(precision, recall, f1, tp, fp, fn)


def normalisation_error(
    correction: np.ndarray, true_gain: np.ndarray, valid: np.ndarray | None = None
) -> float:
    """Relative RMS error of a multiplicative correction against the true gain.

    A perfect correction makes ``correction * true_gain`` constant; the result
    is its standard deviation over its mean (0 = perfect), over ``valid``
    pixels (e.g. excluding dead pixels).
    """
    product = np.asarray(correction, dtype=np.float64) * np.asarray(true_gain, dtype=np.float64)
    if valid is not None:
        product = product[np.asarray(valid, dtype=bool)]
    return float(product.std() / product.mean())


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
