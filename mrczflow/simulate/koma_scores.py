"""Scoring KOMA on a whole simulated session in memory (for ``benchmarks/bench_koma.py`` and its tests).

Mirrors the workflow's arithmetic (:mod:`mrczflow.koma.steps`): integer sums
of the (outlier-filtered) stacks, prefix sums with excluded stacks adding
nothing, the window's stack and frame counts, the same :func:`koma.correction`.
Holds the whole session, which only a benchmark may do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from .. import koma, mrcz, outliers
from ..koma.noise import correlated_noise
from .truth import Truth


def stack_sums(stacks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each stack's sum, rounded to whole counts as ``koma_sum`` stores it (int64)."""
    return [np.rint(np.asarray(s, np.float64).sum(axis=0)).astype(np.int64) for s in stacks]


def koma_scores(
    stacks: Sequence[np.ndarray],
    sums: Sequence[np.ndarray],
    radius: int,
    gain: np.ndarray | None = None,
    *,
    form: str = "divide",
    denoise: bool = True,
    excluded: Collection[int] = (),
    scored: Collection[int] | None = None,
) -> dict[int, float]:
    """Correlated noise (paper Eq. 7) of each stack in ``scored`` (default: all) after KOMA at ``radius``."""
    n = len(stacks)
    included = np.array([i not in excluded for i in range(n)])
    prefixes = koma.prefix_sums([s * keep for s, keep in zip(sums, included, strict=True)])
    counts = np.concatenate([[0], np.cumsum(included)])
    frames = np.concatenate(
        [[0], np.cumsum([len(s) * keep for s, keep in zip(stacks, included, strict=True)])]
    )
    scores = {}
    for i in range(n) if scored is None else scored:
        lo, hi = koma.window(i, n, radius)
        own = sums[i] if included[i] else None
        total = koma.window_sum(prefixes[lo], prefixes[hi], own)
        fix = koma.correction(
            total,
            int(counts[hi] - counts[lo] - included[i]),
            int(frames[hi] - frames[lo] - len(stacks[i]) * included[i]),
            gain,
            form=form,
            denoise=denoise,
        )
        scores[i] = correlated_noise(fix.apply(frame) for frame in stacks[i])
    return scores


def gain_scores(stacks: Sequence[np.ndarray], gain: np.ndarray | None) -> dict[int, float]:
    """Correlated noise after the gain alone (the vendor's normalisation): the baseline KOMA must beat."""
    return {
        i: correlated_noise(s if gain is None else (frame * gain for frame in s))
        for i, s in enumerate(stacks)
    }


def load_session(folder: str | Path, n_stacks: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """A simulated session's stacks as float32, raw and with the outlier filter applied."""
    raw, filtered = [], []
    for i in range(n_stacks):
        stack = mrcz.read(Path(folder) / "movies" / f"stack_{i:04d}.mrc")
        flags = outliers.detect(outliers.stack_sum(stack)).flags
        raw.append(stack.astype(np.float32))
        filtered.append(np.array(list(outliers.filtered_frames(stack, flags))))
    return raw, filtered


def truth_floor(truth: Truth, stacks: Sequence[np.ndarray]) -> float:
    """What no normalisation can remove: true outliers (and ambiguous ones) filled, true gain, lines subtracted.

    For vacuum about the weak, undetectable hot pixels; for particles also the
    specimen itself, which correlates the frames of a stack (the paper's caveat).
    ``stacks`` are the raw counts.
    """
    lines = truth.lines * truth.meta["cmos_counts"]
    values = []
    for i, stack in enumerate(stacks):
        true_outliers, ambiguous = truth.outlier_masks(i)
        flags = np.where(true_outliers | ambiguous, outliers.HOT, 0).astype(np.uint8)
        gain = 1.0 / truth.gain(truth.stack(i).dose_rate)
        frames = outliers.filtered_frames(np.asarray(stack, np.uint16), flags)
        values.append(correlated_noise((f - lines) * gain for f in frames))
    return float(np.mean(values))
