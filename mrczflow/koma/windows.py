"""Knock-out moving average (KOMA) normalisation (paper section 5.2).

For stack ``i`` of a session of ``n`` stacks, the KOMA term is the mean of
the stacks in a window of ``2a + 1`` around ``i`` with ``i`` itself knocked
out, i.e. ``2a`` stacks; at the ends of the session the window is shifted,
not shrunk (paper: "end-points are asymmetrically adjusted"). High-contrast
stacks (carbon, crystalline ice) are kept out of every window: they add
nothing to the sums, so a window holding ``e`` of them averages ``2a - e``
stacks.

How this maps onto Snakemake rules and files (``workflow/rules/koma.smk``):

- the KOMA sum (per stack, written by rule ``outliers`` with the stack's
  mask; by rule ``koma_sum`` when outliers are off): the outlier-filtered sum
  ``S[k]`` (integers) and the stack's own contrast.
- ``koma`` (per stack): reads the ``2a + 1`` sums of its window, one at a
  time, builds the term and normalises the movie.

No chain through the session: a stack's KOMA job depends only on the sums of
its own window, so the longest path of the workflow does not grow with the
session, every KOMA job can run as soon as its neighbours' sums exist, and a
stack that failed is left out of its neighbours' windows. The paper's O(1)
per stack (exact prefix sums ``C[k] = S[0] + ... + S[k-1]``, so a window sum
is ``C[hi] - C[lo]``) needs every prefix before it, i.e. a serial chain; an
O(a) read of sums per stack, in parallel, is what a cluster runs faster.
:func:`prefix_sums` and :func:`window_sum` remain as the paper's form, tested
against the direct sums.

A stack appended to the session reruns only the stacks whose window now
reaches it (the last ``a``, see :func:`windows_changed_by_append`).

A live session (``mrczflow watch``) grows by one stack at a time, and
shifting the last ``a`` windows at every arrival would redo ``a`` KOMA jobs
per movie (and, while the session is shorter than ``2a + 1``, a clamped
radius would change every window at every arrival). There a stack whose
final window does not exist yet takes the trailing window (the up to
``2a + 1`` stacks ending with itself) instead, which later arrivals do not
change: each stack gets KOMA on arrival and once more when its final window
exists (:func:`live_window`).

The correction built from a window is :mod:`.correction`; the screen that keeps
high-contrast stacks out is :mod:`.screen`.
"""

from __future__ import annotations

import numpy as np


def _check(index: int, n_stacks: int, radius: int, least: int) -> None:
    """Refuse a radius below 1, a session of fewer than ``least`` stacks, an index outside it."""
    if radius < 1:
        raise ValueError(f"KOMA radius must be >= 1, got {radius}")
    if n_stacks < least:
        raise ValueError(
            f"KOMA with radius {radius} needs at least {least} stacks here; the session has {n_stacks}"
        )
    if not 0 <= index < n_stacks:
        raise IndexError(f"stack {index} out of range for {n_stacks} stacks")


def window(index: int, n_stacks: int, radius: int, spare: int = 0) -> tuple[int, int]:
    """Stacks ``[lo, hi)`` around ``index``: ``2 radius + 1`` of them, shifted at the ends, ``index`` inside.

    With ``spare``, up to that many more on each side (as many as the session
    holds): candidates to top the window up to ``2 radius`` when the screen
    keeps stacks out (:class:`mrczflow.koma.steps.WindowSum` uses the nearest).
    """
    _check(index, n_stacks, radius, least=2 * radius + 1)
    size = min(2 * (radius + max(spare, 0)) + 1, n_stacks)
    lo = min(max(index - (size - 1) // 2, 0), n_stacks - size)
    return lo, lo + size


def live_window(index: int, n_stacks: int, radius: int, spare: int = 0) -> tuple[int, int]:
    """The window of a stack while the session is still growing: its final one when that exists, else trailing.

    The final window is the one :func:`window` gives once the session has at
    least ``radius`` stacks after ``index`` (and ``2 radius + 1`` in all);
    until then the stack takes the stacks ending with itself, at most
    ``2 radius + 1`` (at least the first 3: two to average besides itself).
    Neither depends on stacks that arrive later, so each stack's window
    changes once, from trailing to final, however the session grows (the
    radius is the configured one, never clamped to the session so far).
    ``spare``: as for :func:`window`, on both sides of the final window and
    before the trailing one.
    """
    _check(index, n_stacks, radius, least=3)
    reach = radius + max(spare, 0)
    size = 2 * reach + 1
    final_lo = max(index - reach, 0)
    if final_lo + size <= n_stacks:
        return final_lo, final_lo + size
    trailing_lo = max(index - 2 * reach, 0)
    return trailing_lo, max(index + 1, trailing_lo + 3)


def nearest(offsets: list[float], limit: int | None) -> list[int]:
    """Which of stacks at ``offsets`` (in stacks from the corrected one) a window uses: the ``limit`` nearest
    (ties: the earlier), as indices into ``offsets`` in their order; all when ``limit`` is None or not reached."""
    order = sorted(range(len(offsets)), key=lambda k: (abs(offsets[k]), offsets[k]))
    return sorted(order if limit is None else order[:limit])


def window_half(position: float) -> int:
    """The half of the window's split (:meth:`mrczflow.koma.correction.Spread.difference`) a stack at ``position`` joins.

    The halves alternate in acquisition order across the corrected stack
    (positions ..., -2, -1, +1, +2, ... go to halves 1, 0, 1, 0), so the two
    stacks beside it, as every symmetric window, are split evenly. By the
    parity of the position alone, -1 and +1 both went to one half: a
    radius-1 window had an empty half, hence no measured noise, and its
    Wiener filter kept the two stacks' specimen as pattern (the corrected
    stacks' correlated noise went up 8x, where radius 2 took it down 15x).
    """
    place = int(round(position))
    return (place if place > 0 else place + 1) % 2


def windows_changed_by_append(n_stacks: int, radius: int, spare: int = 0) -> list[int]:
    """Stacks (of the first ``n_stacks``) whose window differs once one more stack is appended."""
    if n_stacks < 2 * radius + 1:
        return list(range(n_stacks))
    return [
        i
        for i in range(n_stacks)
        if window(i, n_stacks, radius, spare) != window(i, n_stacks + 1, radius, spare)
    ]


def _as_sum(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype.kind not in "iu":
        raise TypeError(f"KOMA sums must be integer images, got {image.dtype}")
    return image


def add_to_prefix(prefix: np.ndarray | None, total: np.ndarray) -> np.ndarray:
    """``C[k+1] = C[k] + S[k]`` modulo ``2**32`` (int32); ``prefix=None`` is ``C[0] = 0``."""
    total = _as_sum(total).astype(np.uint32)
    if prefix is None:
        return total.view(np.int32)
    return (np.asarray(prefix, np.int32).view(np.uint32) + total).view(np.int32)


def prefix_sums(sums) -> list[np.ndarray]:
    """All prefixes ``C[0..n]`` of a list of sums (tests and in-memory benchmarks)."""
    sums = [_as_sum(s) for s in sums]
    prefixes = [np.zeros(sums[0].shape, np.int32)]
    for total in sums:
        prefixes.append(add_to_prefix(prefixes[-1], total))
    return prefixes


def window_sum(prefix_lo: np.ndarray | None, prefix_hi: np.ndarray, own: np.ndarray | None) -> np.ndarray:
    """Exact ``C[hi] - C[lo] - S[i]`` (int64); ``prefix_lo=None`` is ``C[0]``, ``own=None`` knocks nothing out."""
    total = np.asarray(prefix_hi, np.int32).view(np.uint32).copy()
    if prefix_lo is not None:
        total -= np.asarray(prefix_lo, np.int32).view(np.uint32)
    if own is not None:
        total -= _as_sum(own).astype(np.uint32)
    return total.astype(np.int64)
