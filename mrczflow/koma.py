"""Knock-out moving average (KOMA) normalisation terms (paper section 5.2) -- the core.

For stack ``i`` of a session of ``n`` stacks, the KOMA term is the mean of
the stacks in a window of ``2a + 1`` around ``i`` with ``i`` itself knocked
out, i.e. always ``2a`` stacks; at the ends of the session the window is
shifted, not shrunk (paper: "end-points are asymmetrically adjusted").

Cost and memory that do not grow with the radius ``a``: the per-stack sum
images are integers, so exact prefix sums ``C[k] = S[0] + ... + S[k-1]``
(int64) give any window sum as ``C[hi] - C[lo]``: one subtraction, then the
knock-out of ``S[i]``, per stack, whatever ``a``. Each ``C[k+1]`` is
``C[k] + S[k]`` (one add).

How this maps onto Snakemake rules and files: one prefix file per stack,
each depending on the previous one and on its stack's sum (a chain of cheap
adds); the term of stack ``i`` depends on ``S[i]``, ``C[lo]`` and ``C[hi]``
only. A stack appended to the session adds one prefix file, and only the
stacks whose window now reaches it (the last ``a``, see
:func:`windows_changed_by_append`) get new inputs and rerun.
"""

from __future__ import annotations

import numpy as np


def window(index: int, n_stacks: int, radius: int) -> tuple[int, int]:
    """Stacks ``[lo, hi)`` around ``index``: ``2 radius + 1`` of them, shifted at the ends, ``index`` inside."""
    if radius < 1:
        raise ValueError(f"KOMA radius must be >= 1, got {radius}")
    size = 2 * radius + 1
    if n_stacks < size:
        raise ValueError(
            f"a KOMA radius of {radius} needs at least {size} stacks; the session has {n_stacks}"
        )
    if not 0 <= index < n_stacks:
        raise IndexError(f"stack {index} out of range for {n_stacks} stacks")
    lo = min(max(index - radius, 0), n_stacks - size)
    return lo, lo + size


def prefix_sums(sums) -> list[np.ndarray]:
    """Exact prefix sums ``C[0..n]`` (int64) of integer per-stack sum images (for tests and small sessions)."""
    prefixes: list[np.ndarray] = []
    for image in sums:
        image = np.asarray(image)
        if image.dtype.kind not in "iu":
            raise TypeError(f"KOMA prefix sums need integer sum images, got {image.dtype}")
        if not prefixes:
            prefixes.append(np.zeros(image.shape, np.int64))
        prefixes.append(prefixes[-1] + image)
    return prefixes


def koma_term(prefix_lo: np.ndarray, prefix_hi: np.ndarray, own: np.ndarray, radius: int) -> np.ndarray:
    """Mean of the ``2 radius`` other stacks of the window: ``(C[hi] - C[lo] - S[i]) / (2 radius)`` (float32)."""
    knocked_out = (
        np.asarray(prefix_hi, np.int64) - np.asarray(prefix_lo, np.int64) - np.asarray(own, np.int64)
    )
    return (knocked_out / (2 * radius)).astype(np.float32)


def windows_changed_by_append(n_stacks: int, radius: int) -> list[int]:
    """Stacks (of the first ``n_stacks``) whose window differs once one more stack is appended."""
    if n_stacks < 2 * radius + 1:
        return list(range(n_stacks))
    return [i for i in range(n_stacks) if window(i, n_stacks, radius) != window(i, n_stacks + 1, radius)]


def subtract_pattern(frame: np.ndarray, term: np.ndarray, frames_in_term: int) -> np.ndarray:
    """Paper Eq. 9 with the KOMA term as I_CMOS: remove the fixed pattern, keep the frame's mean dose.

    ``term`` is a mean *stack sum* of ``frames_in_term`` frames; the per-frame
    pattern is its deviation from its own mean.
    """
    pattern = term / np.float32(frames_in_term)
    return frame.astype(np.float32) - (pattern - pattern.mean(dtype=np.float64)).astype(np.float32)


def divide_pattern(frame: np.ndarray, term: np.ndarray) -> np.ndarray:
    """The multiplicative (flat-field) form: ``frame * mean(term) / term``; zeros in ``term`` give 0."""
    term = np.asarray(term, np.float32)
    scale = np.divide(np.float32(term.mean(dtype=np.float64)), term, out=np.zeros_like(term), where=term > 0)
    return frame.astype(np.float32) * scale
