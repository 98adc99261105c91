"""Scoring KOMA on a whole simulated session in memory (for ``benchmarks/bench_koma.py`` and its tests).

Mirrors the workflow's arithmetic (:mod:`mrczflow.komasteps`): integer sums
of the (outlier-filtered) stacks, prefix sums with excluded stacks adding
nothing, the window's stack and frame counts, the same :func:`koma.correction`.
Holds the whole session, which only a benchmark may do.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np

from . import koma
from .metrics import correlated_noise


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
