"""Exact count thresholds: a false-alarm rate that holds at every dose (SPEC section 3, step 5).

A clean pixel's stack sum is Poisson with mean ``m * g``: ``m`` the local
level (the flattened background), ``g`` the pixel's relative response, which
varies from pixel to pixel (gain, etching, specimen) around 1 with a
variance ``v``. With ``g`` gamma-distributed the sum is negative binomial
with mean ``m`` and variance ``m + v m^2``; ``v = 0`` is exact Poisson. ``v``
is measured on the stack itself: ``E[(x - m)^2 - x] = v m^2`` holds for any
such mixture, so no normal approximation enters, and pixels more than six
standard deviations out (hot, dead) are left out of the estimate.

Thresholds are whole counts, per pixel (on a fine grid of levels): a pixel is
hot when ``P(sum >= x) <= rate`` under the model, dead when ``P(sum <= x) <=
rate``. Where even a zero sum is not that unlikely (``P(0) > rate``: a low
dose), nothing is called dead: the data cannot tell. The expected number of
false alarms of the stack is the sum of those tail probabilities, which the
report compares with what was flagged.
"""

from __future__ import annotations

import dataclasses

import numpy as np

# Levels are placed on a geometric grid this fine (relative step) before their thresholds are computed.
GRID_STEP = 0.002
TRIM_SIGMA = 6.0


@dataclasses.dataclass
class CountThresholds:
    """Per-pixel whole-count limits and what they cost in false alarms under the model."""

    hot_above: np.ndarray  # float32: hot where sum > this
    dead_at_most: np.ndarray  # float32: dead where sum <= this (-1: no dead call possible)
    overdispersion: float  # v
    expected_false_hot: float
    expected_false_dead: float
    dead_detectable: float  # fraction of pixels where a dead call is possible


@dataclasses.dataclass(frozen=True)
class CountModel:
    """The model's distribution of a clean pixel's sum at each of ``levels``: Poisson (``v`` = 0) or negative
    binomial with variance ``m + v m^2``.

    From :mod:`scipy.special` (the regularised incomplete gamma and beta
    functions) rather than :mod:`scipy.stats`, whose import alone took a
    second of every outliers job; ``tests/test_outlier_calibration.py``
    checks it against :mod:`scipy.stats` value for value.
    """

    levels: np.ndarray
    v: float

    def _poisson(self) -> bool:
        return self.v <= 1e-9

    def cdf(self, k: np.ndarray) -> np.ndarray:
        """``P(X <= k)`` (0 below 0)."""
        return self._tail(k, upper=False)

    def sf(self, k: np.ndarray) -> np.ndarray:
        """``P(X > k)`` (1 below 0), computed as the small tail itself, not ``1 - cdf``."""
        return self._tail(k, upper=True)

    def _tail(self, k: np.ndarray, upper: bool) -> np.ndarray:
        from scipy import special

        k = np.floor(np.asarray(k, np.float64))
        whole = np.maximum(k, 0.0)
        if self._poisson():
            value = (special.pdtrc if upper else special.pdtr)(whole, self.levels)
        elif upper:  # P(X > k) = I_{1-p}(k + 1, n)
            vm = self.v * self.levels
            value = special.betainc(whole + 1.0, 1.0 / self.v, vm / (1.0 + vm))
        else:  # P(X <= k) = I_p(n, k + 1)
            value = special.betainc(1.0 / self.v, whole + 1.0, 1.0 / (1.0 + self.v * self.levels))
        return np.where(k < 0, 1.0 if upper else 0.0, value)

    def _smallest(self, holds) -> np.ndarray:
        """The smallest whole ``k >= 0`` at each level where ``holds(k)`` (true from some ``k`` on), by bisection."""
        spread = np.sqrt(self.levels * (1.0 + self.v * self.levels))
        high = np.ceil(self.levels + 10.0 * spread + 10.0)
        while not np.all(found := holds(high)):
            high = np.where(found, high, 2.0 * high + 1.0)
        low = np.full_like(high, -1.0)  # below every answer
        while np.any(high - low > 1):
            middle = np.floor((low + high) / 2.0)
            found = holds(middle)
            high, low = np.where(found, middle, high), np.where(found, low, middle)
        return high

    def isf(self, rate: float) -> np.ndarray:
        """The smallest ``k`` with ``P(X > k) <= rate`` (as :meth:`scipy.stats.rv_discrete.isf`)."""
        return self._smallest(lambda k: self.sf(k) <= rate)

    def ppf(self, rate: float) -> np.ndarray:
        """The smallest ``k`` with ``P(X <= k) >= rate`` (as :meth:`scipy.stats.rv_discrete.ppf`)."""
        return self._smallest(lambda k: self.cdf(k) >= rate)


def overdispersion(
    total: np.ndarray,
    level: np.ndarray,
    block: int = 32,
    iterations: int = 3,
    exclude: np.ndarray | None = None,
) -> float:
    """``v`` of the model (module doc), from the stack's sum ``total`` and its local level ``level``.

    The moment estimate is made per ``block`` x ``block`` tile and the median
    taken over tiles: the few tiles holding hot pixels' faint neighbours (too
    close to the level to be trimmed) do not widen every pixel's limits.
    ``exclude`` leaves pixels out (the 5 x 5 neighbourhoods of outliers found
    in a first pass: at low dose a bright hot pixel's point spread is many
    counts over the level).
    """
    # Every other row and column of a large frame is plenty for one number (and 4x faster).
    step = 2 if np.size(total) > 4_000_000 else 1
    x = np.asarray(total)[::step, ::step].astype(np.float32)
    m = np.asarray(level)[::step, ::step].astype(np.float32)
    left_out = np.zeros(x.shape, bool) if exclude is None else np.asarray(exclude, bool)[::step, ::step]
    block = max(1, block // step)
    ny, nx = (s // block * block for s in x.shape)
    if ny == 0 or nx == 0:
        ny, nx, block = x.shape[0], x.shape[1], min(x.shape)
    x, m, left_out = x[:ny, :nx], m[:ny, :nx], left_out[:ny, :nx]
    r = x - m
    # What does not change between iterations is made once (the same numbers as in the loop).
    distance = np.abs(r)
    excess = r * r - x
    square = m * m
    inside = ~left_out
    v = 0.0
    for _ in range(iterations):
        keep = (distance <= TRIM_SIGMA * np.sqrt(m + v * m * m) + 1.0) & inside
        top = (
            np.where(keep, excess, 0.0)
            .reshape(ny // block, block, nx // block, block)
            .sum(axis=(1, 3), dtype=np.float64)
        )
        bottom = (
            np.where(keep, square, 0.0)
            .reshape(ny // block, block, nx // block, block)
            .sum(axis=(1, 3), dtype=np.float64)
        )
        ratios = top[bottom > 0] / bottom[bottom > 0]
        if ratios.size == 0:
            return 0.0
        v = max(0.0, float(np.median(ratios)))
    return v


def thresholds(level: np.ndarray, rate: float, v: float) -> CountThresholds:
    """Hot and dead limits of every pixel at false-alarm ``rate`` per side (module doc)."""
    if not 0 < rate < 0.5:
        raise ValueError(f"false_alarm_rate must be between 0 and 0.5, got {rate}")
    m = np.maximum(np.asarray(level, np.float32), np.float32(1e-6))
    lo, hi = float(m.min()), float(m.max())
    n_grid = max(1, int(np.ceil(np.log(hi / lo) / np.log1p(GRID_STEP))) + 1)
    grid = lo * (1 + GRID_STEP) ** np.arange(n_grid)
    index = np.multiply(m, np.float32(1 / lo))
    del m
    np.log(index, out=index)
    index *= np.float32(1 / np.log1p(GRID_STEP))
    np.rint(index, out=index)
    index = np.clip(index, 0, n_grid - 1, out=index).astype(np.int32)
    model = CountModel(grid, v)
    hot = model.isf(rate)  # smallest k with P(X > k) <= rate
    dead = model.ppf(rate)  # smallest k with P(X <= k) >= rate
    dead = np.where(model.cdf(dead) > rate, dead - 1, dead)  # so that P(X <= dead) <= rate
    pixels = np.bincount(index.ravel(), minlength=n_grid)
    false_hot = float(np.sum(pixels * model.sf(hot)))
    false_dead = float(np.sum(pixels * np.where(dead >= 0, model.cdf(dead), 0.0)))
    return CountThresholds(
        # Cast per grid point, then looked up: the same values as a frame-sized float64 lookup, cast.
        hot_above=hot.astype(np.float32)[index],
        dead_at_most=np.where(dead >= 0, dead, -1).astype(np.float32)[index],
        overdispersion=v,
        expected_false_hot=false_hot,
        expected_false_dead=false_dead,
        dead_detectable=float(np.sum(pixels[dead >= 0]) / index.size),
    )
