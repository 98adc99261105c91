"""Scoring KOMA on a whole simulated session in memory (for ``benchmarks/bench_koma.py`` and its tests).

Mirrors the workflow's arithmetic (:mod:`mrczflow.koma.steps`): integer sums
of the (outlier-filtered) stacks, windows with their spares of which the
nearest kept stacks are used, the window's interleaved halves, its stack and
frame counts, the same :func:`koma.correction`.
Holds the whole session, which only a benchmark may do.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage

from .. import koma, mrcz, outliers
from ..koma.correction import Correction, Spread
from ..koma.drift import LowBand, Views, fit
from ..koma.noise import correlated_noise
from ..koma.screen import block_means, edge_block
from ..koma.windows import nearest, window_half
from .truth import Truth

#: The low-pass of :func:`gain_error`: a box of this many px, twice (the scale a drifting gain lives at).
LOW_PASS = 64


def stack_sums(stacks: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Each stack's sum, rounded to whole counts as ``koma_sum`` stores it (int64)."""
    return [np.rint(np.asarray(s, np.float64).sum(axis=0)).astype(np.int64) for s in stacks]


def koma_corrections(
    stacks: Sequence[np.ndarray],
    sums: Sequence[np.ndarray],
    radius: int,
    gain: np.ndarray | None = None,
    *,
    form: str = "divide",
    denoise: bool = True,
    excluded: Collection[int] = (),
    scored: Collection[int] | None = None,
    spare: int = 0,
    spread: bool = True,
    drift: bool = True,
    oracle: Callable[[int], np.ndarray] | None = None,
) -> dict[int, Correction]:
    """The KOMA correction of each stack in ``scored`` (default: all) at ``radius``, as rule koma makes it.

    Each window is :func:`koma.window` with ``spare`` stacks on each side, of
    which the ``2 radius`` nearest not ``excluded`` are used (the top-up of
    :class:`mrczflow.koma.steps.WindowSum`). ``spread=False``: only the
    window's shot noise is taken out (KOMA before issue #18), for comparison;
    ``drift=False``: the lowest frequencies are not judged against the stacks'
    scatter (:mod:`mrczflow.koma.drift`), for comparison too. ``oracle``: the
    true flat field of stack ``i`` (:func:`true_flat`); the lowest frequencies
    are then weighed by the truth (:func:`oracle_low_band`).
    """
    n = len(stacks)
    fixes = {}
    for i in range(n) if scored is None else scored:
        lo, hi = koma.window(i, n, radius, spare)
        kept = [k for k in range(lo, hi) if k != i and k not in excluded]
        used = [kept[k] for k in nearest([k - i for k in kept], 2 * radius)]
        window_spread = Spread.empty(sums[i].shape) if spread else None
        block = edge_block(sums[i].shape)
        total = np.zeros(sums[i].shape, np.int64)
        for k in used:
            total += sums[k]
            if window_spread is not None:
                window_spread.add(sums[k], window_half(k - i), float(k - i))
        views = (
            Views(block, [block_means(sums[k], block) for k in used], [float(k - i) for k in used])
            if spread and drift
            else None
        )
        low = None
        if views is not None and oracle is not None:
            low, views = oracle_low_band(views, gain, oracle(i), [oracle(k) for k in used]), None
        fixes[i] = koma.correction(
            total,
            len(used),
            sum(len(stacks[k]) for k in used),
            gain,
            form=form,
            denoise=denoise,
            spread=window_spread,
            views=views,
            low=low,
        )
    return fixes


def oracle_low_band(
    views: Views, gain: np.ndarray | None, own: np.ndarray, window: Sequence[np.ndarray]
) -> LowBand | None:
    """The low band weighed as well as the window's data allow: KOMA's weighing with the true powers.

    :func:`mrczflow.koma.drift.low_band` follows the window's trend by the
    share its power stands above its noise and keeps the estimate at the
    stack's time by the share its power stands above its error, each power
    guessed from the same noisy estimates. This oracle is handed the true
    powers instead: the pattern's at the stack's own time (``own``, the true
    flat field, what a perfect normalisation divides by) and its trend's over
    the window (``window``, the true flat fields of the views' stacks), both
    after ``gain``; the error is the window's scatter, as KOMA measures it.
    Its weights are the Wiener ones for that error: KOMA's weighing had it
    known the powers rather than guessed them. A reference, not a bound:
    where the scatter misjudges the estimate's error (measured: 128 px, 16
    stacks) KOMA's margin does better. None where the fit is (under 4
    stacks).
    """
    line = fit(views, gain)
    if line is None:
        return None

    def spectrum(flat: np.ndarray) -> np.ndarray:
        true = np.asarray(flat, np.float64) if gain is None else np.asarray(flat, np.float64) * gain
        blocks = block_means(true.astype(np.float32), views.block)
        return np.fft.rfft2(blocks / blocks.mean() - 1.0)

    power = np.abs(spectrum(own)) ** 2
    share = np.zeros(power.shape)
    error = line.noise / line.n
    if line.offset:
        positions = np.asarray(views.positions, np.float64)
        centred = positions - positions.mean()
        slope = sum(t * spectrum(flat) for t, flat in zip(centred, window, strict=True)) / line.spread
        slope_power, slope_noise = np.abs(slope) ** 2, line.noise / line.spread
        share = slope_power / np.maximum(slope_power + slope_noise, 1e-30)
        error = error + line.offset**2 * (share**2 * slope_noise + (1 - share) ** 2 * slope_power)
    keep = power / np.maximum(power + error, 1e-30)
    return LowBand(line.grid, keep.astype(np.float32), share.astype(np.float32), line.offset)


def screened(
    sums: Sequence[np.ndarray], radius: int, threshold: float = 0.08, spare: int = 0
) -> dict[int, dict]:
    """Each stack's verdict and evidence from the screen of its own window and spares (as rule koma judges it)."""
    blocks = [koma.block_means(total) for total in sums]
    edges = [koma.block_means(total, edge_block(total.shape)) for total in sums]
    verdicts = {}
    for i in range(len(sums)):
        lo, hi = koma.window(i, len(sums), radius, spare)
        verdicts[i] = koma.window_screen(
            {k: blocks[k] for k in range(lo, hi)},
            threshold=threshold,
            edges={k: edges[k] for k in range(lo, hi)},
        )[i]
    return verdicts


def koma_scores(
    stacks: Sequence[np.ndarray],
    sums: Sequence[np.ndarray],
    radius: int,
    gain: np.ndarray | None = None,
    **options,
) -> dict[int, float]:
    """Correlated noise (paper Eq. 7) of each stack after KOMA at ``radius`` (options: :func:`koma_corrections`)."""
    fixes = koma_corrections(stacks, sums, radius, gain, **options)
    return {i: correlated_noise(fix.apply(frame) for frame in stacks[i]) for i, fix in fixes.items()}


def true_flat(truth: Truth, index: int, counts_per_frame: float) -> np.ndarray:
    """What a perfect multiplicative normalisation of stack ``index`` divides by: its true response and, over
    its mean counts a frame, the additive read-out lines (which no gain reference holds and KOMA removes)."""
    lines = truth.lines * truth.meta["cmos_counts"]
    return truth.stack_gain(index) + lines / counts_per_frame


def gain_error(effective_gain: np.ndarray | None, true_response: np.ndarray) -> tuple[float, float]:
    """How far a correction's gain is from the truth: relative std of ``response x gain``, full and 64-px low-pass.

    ``effective_gain`` multiplies counts (a vendor gain, or :meth:`Correction.gain_reference`);
    None is no gain. A perfect gain makes the product flat (0, 0). Pixels
    more than 6 robust sigmas off (dead, hot-filled) count as 0 in both.
    """
    product = np.asarray(true_response, np.float64)
    if effective_gain is not None:
        product = product * effective_gain
    relative = product / product.mean() - 1.0
    spread = 1.4826 * np.median(np.abs(relative - np.median(relative)))
    relative[np.abs(relative - np.median(relative)) > 6 * max(spread, 1e-12)] = 0.0
    smooth = ndimage.uniform_filter(
        ndimage.uniform_filter(relative, LOW_PASS, mode="nearest"), LOW_PASS, mode="nearest"
    )
    return float(relative.std()), float(smooth.std())


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
        gain = 1.0 / truth.stack_gain(i)
        frames = outliers.filtered_frames(np.asarray(stack, np.uint16), flags)
        values.append(correlated_noise((f - lines) * gain for f in frames))
    return float(np.mean(values))
