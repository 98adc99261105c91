"""Scores against the simulator's ground truth (tests and benchmarks only)."""

from __future__ import annotations

import dataclasses

import numpy as np


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


def baseline_mask(total: np.ndarray, n_sigma: float = 6.0) -> np.ndarray:
    """The common simple rule (RELION, MotionCor2): sum > mean + 6 sigma; the baseline our filter must beat."""
    total = np.asarray(total, dtype=np.float64)
    return total > total.mean() + n_sigma * total.std()
