"""The window's lowest frequencies: the pattern at the stack's own time, judged against the stacks' own scatter.

At the lowest spatial frequencies two things share a window's mean with
the detector's pattern, and both can be larger than what the gain leaves
to correct:

- the specimen: each stack's ice thickness varies by about 2% over the
  frame, so even a mean of ``2a`` stacks carries about ``2% / sqrt(2a)`` of
  it, which KOMA would stamp on the stack as if it were the detector's;
- drift: a detector whose response drifts over the session has, at the
  stack's own time, the window's pattern only if the window is centred on
  the stack. At the session's ends it is not, and the mean is the pattern
  of another time.

Two interleaved halves of the window (:class:`.correction.Spread`) measure
the first with 2 degrees of freedom per frequency, and a Wiener filter on
so noisy a measure keeps about half of the noise's amplitude. Here each
stack of the window is seen on a coarse block grid (the screen's straight-
edge view, about 128 blocks across, already in memory), and per frequency
of that grid:

- the pattern is fitted as a straight line over the stacks' positions
  (least squares), and the residual scatter gives the noise with
  ``n - 2`` degrees of freedom (smoothed over neighbouring frequencies);
- the pattern at the stack's own time is the line at position 0: the
  window's mean minus its mean position times the slope, where the slope
  is taken only in the share by which it stands above its own noise (a
  Wiener share: extrapolating a noisy slope adds more error than it
  removes);
- a Wiener filter with a margin keeps that estimate only where its power
  stands above its error: the mean's noise, the followed slope's noise,
  and the bias of the slope not followed (at the session's ends the mean
  holds drift the stack does not have; counted as noise only, it was kept
  where the gamma gain was already right).

The result replaces the filtered window pattern at those frequencies (up to
a quarter of the block grid's sampling rate); above them the detector's
pattern is static and :func:`.correction.wiener` is unchanged.
``benchmarks/bench_koma.py`` (section 5) measures it per stack position on
a drifting detector, ``tests/test_koma_drift.py`` bounds it.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.fft
from scipy import ndimage

from .screen import block_means

#: The Wiener filter's margin: an estimate is kept where its power stands this many times above its error.
MARGIN = 3.0
#: The slope's margin: the trend is followed in the share of its power above this many times its noise (1: Wiener).
SLOPE_MARGIN = 1.0
#: Frequencies up to the block grid's sampling rate over this are the low band (where block means are faithful).
BAND = 4
#: Neighbouring frequencies (of the block grid) over which powers are smoothed.
SMOOTHING = 3


@dataclasses.dataclass
class LowBand:
    """What the window says at its lowest frequencies, per frequency of a block grid of ``grid`` blocks.

    ``keep``: the Wiener factor of the pattern at the stack's own time;
    ``slope_share``: the share of the trend followed; ``offset``: the
    stack's position minus the window's mean position (in stacks).
    """

    grid: tuple[int, int]
    keep: np.ndarray
    slope_share: np.ndarray
    offset: float

    def _cells(
        self, shape: tuple[int, int], frame: tuple[int, int]
    ) -> tuple[list[tuple[int, int]], np.ndarray]:
        """The band in an ``rfft2`` of a ``shape`` image holding a ``frame`` (mirrored around it): pairs (block grid
        row, spectrum row) and, per spectrum column, its block grid column (the nearest in cycles per frame)."""
        rows, columns = self.grid
        scale_y, scale_x = shape[0] / frame[0], shape[1] / frame[1]
        cut_y, cut_x = int(rows // BAND * scale_y), int(columns // BAND * scale_x)
        pairs = [(round(k / scale_y) % rows, k % shape[0]) for k in range(-cut_y, cut_y + 1)]
        return pairs, np.rint(np.arange(cut_x + 1) / scale_x).astype(np.intp)

    def take(
        self, spectrum: np.ndarray, shape: tuple[int, int], frame: tuple[int, int] | None = None
    ) -> np.ndarray:
        """The band of ``spectrum`` (an ``rfft2`` of a ``shape`` image holding a ``frame``, default the whole), a copy."""
        pairs, grid_columns = self._cells(shape, frame or shape)
        return np.array([spectrum[row, : len(grid_columns)] for _, row in pairs])

    def replace(
        self,
        filtered: np.ndarray,
        raw: np.ndarray,
        slope: np.ndarray | None,
        shape: tuple[int, int],
        frame: tuple[int, int] | None = None,
    ) -> None:
        """Set the band of ``filtered`` (as in :meth:`take`) to the stack's own-time pattern.

        ``raw``: the band (:meth:`take`) of the window's unfiltered pattern,
        ``slope``: that of its change per stack (None: no trend).
        """
        pairs, grid_columns = self._cells(shape, frame or shape)
        width = len(grid_columns)
        for k, (grid_row, row) in enumerate(pairs):
            value = raw[k]
            if slope is not None and self.offset:
                value = value + self.offset * self.slope_share[grid_row, grid_columns] * slope[k]
            filtered[row, :width] = self.keep[grid_row, grid_columns] * value
        filtered[0, 0] = 0.0


def _smoothed(power: np.ndarray) -> np.ndarray:
    return ndimage.uniform_filter(power, SMOOTHING, mode=("wrap", "nearest"))


@dataclasses.dataclass
class Views:
    """The stacks a window uses, each as its block means on one grid of ``block``-px blocks, and their positions.

    ``positions``: stacks from the corrected one (None: unknown, as when
    windows are merged). The straight-edge view of the screen
    (:func:`.screen.edge_block`) is such a grid, already in memory.
    """

    block: int
    blocks: list[np.ndarray]
    positions: list[float] | None = None


@dataclasses.dataclass
class Fit:
    """The straight line a window's stacks make at each frequency of the block grid (:func:`fit`).

    ``mean`` and ``slope`` (per stack) are rfft2 spectra of the relative
    block image; ``noise`` is one stack's scatter about the line (smoothed
    power); ``spread`` the sum of the squared centred positions; ``offset``
    the stack's position minus the window's mean position (0 when the trend
    is not followed: positions unknown or all alike).
    """

    grid: tuple[int, int]
    n: int
    mean: np.ndarray
    slope: np.ndarray
    noise: np.ndarray
    spread: float
    offset: float


def fit(views: Views, gain: np.ndarray | None = None) -> Fit | None:
    """The window's straight line per frequency, from its stacks' block means, the gain ``gain`` (full frame,
    or None) applied.

    Without positions the window's mean is taken as the stack's own time and
    the scatter is taken about it. Returns None for windows of fewer than 4
    stacks with counts, whose scatter says too little.
    """
    gain_blocks = None if gain is None else block_means(np.asarray(gain, np.float32), views.block)
    flats = [
        np.asarray(image, np.float64) if gain_blocks is None else image * gain_blocks
        for image in views.blocks
    ]
    levels = [float(flat.mean()) for flat in flats]
    # A stack without counts (as Spread.add skips it) has no relative image.
    counted = [k for k, level in enumerate(levels) if level > 0]
    n = len(counted)
    if n < 4:
        return None
    known = views.positions is not None
    times = np.asarray([views.positions[k] for k in counted] if known else np.zeros(n), np.float64)
    centred = times - times.mean()
    spread = float(np.sum(centred**2))
    follow = known and spread > 1e-9
    total = slope = power = None
    for k, time in zip(counted, centred, strict=True):
        spectrum = scipy.fft.rfft2(flats[k] / levels[k] - 1.0)
        if total is None:
            total, slope, power = np.zeros_like(spectrum), np.zeros_like(spectrum), np.zeros(spectrum.shape)
        total += spectrum
        slope += time * spectrum
        power += spectrum.real**2 + spectrum.imag**2
    mean = total / n
    slope = slope / spread if follow else np.zeros_like(mean)
    # Least squares: the residual power is the total less what the mean and the slope explain.
    residual = power - n * np.abs(mean) ** 2 - (spread * np.abs(slope) ** 2 if follow else 0.0)
    noise = _smoothed(np.maximum(residual, 0.0)) / (n - 2 if follow else n - 1)
    offset = -float(times.mean()) if follow else 0.0
    grid = (flats[0].shape[0], flats[0].shape[1])
    return Fit(grid, n, mean, slope, noise, spread, offset)


def low_band(views: Views, gain: np.ndarray | None = None) -> LowBand | None:
    """The low band of a window (module doc) from its stacks' block means, the gain ``gain`` applied.

    Returns None where :func:`fit` does (fewer than 4 stacks with counts).
    """
    line = fit(views, gain)
    if line is None:
        return None
    mean, slope, noise, n, offset = line.mean, line.slope, line.noise, line.n, line.offset
    if offset:
        slope_noise = noise / line.spread
        slope_power = _smoothed(np.abs(slope) ** 2)
        share = np.clip(1.0 - SLOPE_MARGIN * slope_noise / np.maximum(slope_power, 1e-30), 0, 1)
        # The trend not followed stays in the estimate as a bias, of the slope's power above its noise.
        missed = (1.0 - share) ** 2 * np.maximum(slope_power - slope_noise, 0.0)
    else:
        slope_noise, share, missed = np.zeros_like(noise), np.zeros_like(noise), 0.0
    estimate = mean + offset * share * slope
    # The estimate's error: the mean's noise, the followed slope's noise and the bias of the slope not followed.
    variance = noise / n + offset**2 * (share**2 * slope_noise + missed)
    keep = np.clip(1.0 - MARGIN * variance / np.maximum(_smoothed(np.abs(estimate) ** 2), 1e-30), 0, 1)
    return LowBand(line.grid, keep.astype(np.float32), share.astype(np.float32), offset)
