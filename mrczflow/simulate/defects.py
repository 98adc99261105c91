"""Hot and dead pixels over a session.

Hot pixels come and go from stack to stack: each stack keeps a random
``hot_persistence`` share of the previous stack's hot pixels and draws new
ones, and their number follows the cumulative dose linearly from
``hot_fraction_start`` to ``hot_fraction_end`` of all pixels over
``hot_growth_dose`` e/px (paper: 5,500 to 12,300 on a K2 over 500 stacks of
100 frames at 1.2 e/px/frame), then stays. Each hot pixel adds a count rate
drawn log-uniformly from ``hot_rate_min``-``hot_rate_max`` counts/frame.
Dead pixels are stable: once dead, dead for the rest of the session; their
number grows from ``dead_fraction_start`` to ``dead_fraction_end`` the same way.

A second model, so that tests do not tune to one (SPEC section 5):
``hot_rate_model: graded`` draws rates from a gamma law (mostly faint, a few
bright), and ``hot_cluster_fraction`` of new hot pixels bring one or two hot
neighbours (2-3 px clusters).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from .detector import DetectorConfig


@dataclasses.dataclass
class StackDefects:
    """Defects of one stack: flat pixel indices (and rates for hot pixels)."""

    hot_indices: np.ndarray
    hot_rates: np.ndarray
    dead_indices: np.ndarray


class DefectSchedule:
    """Draws each stack's hot and dead pixels in acquisition order."""

    def __init__(self, config: DetectorConfig, rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.n_pixels = config.shape[0] * config.shape[1]
        self._hot = np.empty(0, np.int64)
        self._rates = np.empty(0, np.float32)
        self._dead = np.empty(0, np.int64)

    def _fraction(self, start: float, end: float, cumulative_dose: float) -> float:
        growth = self.config.hot_growth_dose
        progress = 1.0 if growth <= 0 else min(1.0, cumulative_dose / growth)
        return start + (end - start) * progress

    def expected_hot(self, cumulative_dose: float) -> int:
        c = self.config
        return round(
            self._fraction(c.hot_fraction_start, c.hot_fraction_end, cumulative_dose) * self.n_pixels
        )

    def expected_dead(self, cumulative_dose: float) -> int:
        c = self.config
        return round(
            self._fraction(c.dead_fraction_start, c.dead_fraction_end, cumulative_dose) * self.n_pixels
        )

    def next_stack(self, cumulative_dose: float) -> StackDefects:
        """Defects of the next stack, recorded after ``cumulative_dose`` e/px."""
        c, rng = self.config, self.rng
        n_dead = self.expected_dead(cumulative_dose)
        if n_dead > self._dead.size:
            fresh = rng.choice(self.n_pixels, n_dead - self._dead.size + 16, replace=False)
            fresh = np.setdiff1d(fresh, self._dead)[: n_dead - self._dead.size]
            self._dead = np.concatenate([self._dead, rng.permutation(fresh)])
        n_hot = self.expected_hot(cumulative_dose)
        keep = rng.random(self._hot.size) < c.hot_persistence
        hot, rates = self._hot[keep][:n_hot], self._rates[keep][:n_hot]
        missing = n_hot - hot.size
        if missing > 0:
            taken = np.concatenate([hot, self._dead])
            fresh = np.setdiff1d(rng.choice(self.n_pixels, 2 * missing + 16, replace=False), taken)
            fresh = rng.permutation(fresh)[:missing]
            if c.hot_rate_model == "graded":
                fresh_rates = rng.gamma(c.hot_rate_shape, c.hot_rate_mean / c.hot_rate_shape, fresh.size)
            else:
                fresh_rates = np.exp(rng.uniform(np.log(c.hot_rate_min), np.log(c.hot_rate_max), fresh.size))
            if c.hot_cluster_fraction > 0:
                fresh, fresh_rates = self._clusters(fresh, fresh_rates, np.concatenate([hot, self._dead]))
            hot = np.concatenate([hot, fresh])
            rates = np.concatenate([rates, fresh_rates.astype(np.float32)])
        self._hot, self._rates = hot, rates
        return StackDefects(hot.copy(), rates.copy(), self._dead.copy())

    def _clusters(
        self, fresh: np.ndarray, rates: np.ndarray, taken: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Give ``hot_cluster_fraction`` of ``fresh`` hot pixels one or two hot neighbours (right, below)."""
        c, rng = self.config, self.rng
        ny, nx = c.shape
        seeds = np.flatnonzero(rng.random(fresh.size) < c.hot_cluster_fraction)
        extra, extra_rates = [], []
        for i in seeds.tolist():
            y, x = divmod(int(fresh[i]), nx)
            for dy, dx in [(0, 1), (1, 0)][: int(rng.integers(1, 3))]:
                if y + dy < ny and x + dx < nx:
                    extra.append((y + dy) * nx + x + dx)
                    extra_rates.append(rates[i] * rng.uniform(0.3, 1.0))
        if not extra:
            return fresh, rates
        extra_arr = np.array(extra, np.int64)
        new = ~np.isin(extra_arr, np.concatenate([taken, fresh]))
        extra_arr, unique = np.unique(extra_arr[new], return_index=True)
        return (
            np.concatenate([fresh, extra_arr]),
            np.concatenate([rates, np.asarray(extra_rates)[new][unique]]),
        )
