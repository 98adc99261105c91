"""Ground truth of a simulated dataset, for scoring algorithms (never read by pipeline steps).

Which pixels count as outliers: a hot pixel adds counts to itself and, by the
point-spread table, to its neighbours. A pixel is a *true outlier* of a stack
when its expected excess over the stack sum is at least ``hot_sigma`` Poisson
standard deviations of the clean sum there, and *ambiguous* when it lies
between ``ambiguous_sigma`` and ``hot_sigma``: scores ignore ambiguous
pixels, since neither finding nor missing them is wrong. Dead pixels are
true outliers when the clean sum there is at least ``hot_sigma`` standard
deviations above zero (else nothing can tell them from shot noise).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ..gain.law import GammaLaw
from .detector import pixel_coincidence, response, spread_hot_pixels


@dataclasses.dataclass
class StackTruth:
    dose_rate: float
    dose_per_frame: float
    detected_per_frame: float
    n_frames: int
    specimen: str
    hot_indices: np.ndarray
    hot_rates: np.ndarray
    dead_indices: np.ndarray
    drift: np.ndarray
    session_fraction: float = 0.5


class Truth:
    """A ``truth/*.npz`` file written by :func:`mrczflow.simulate.simulate`."""

    def __init__(self, path: str | Path) -> None:
        with np.load(path) as data:
            self._data = {k: data[k] for k in data.files}
        self.meta = json.loads(str(self._data["meta"]))
        self.shape = tuple(self.meta["shape"])
        self.gamma = GammaLaw(**self.meta["gamma"])
        self.pixel_gain = self._data["pixel_gain"]
        self.etching = self._data["etching"]
        self.lines = self._data["lines"]
        self.line_factor = self._data.get("line_factor", np.ones(self.shape, np.float32))
        self.vendor_gain = self._data["vendor_gain"]
        self.drift_pattern = self._data.get("drift_pattern")
        self.coincidence_limits = self._data.get("coincidence_limits")
        self.dose_rate = self._data["dose_rate"]
        self.n_stacks = len(self.dose_rate)

    def gain(self, dose_rate: float, session_fraction: float = 0.5) -> np.ndarray:
        """True multiplicative response at ``dose_rate``, ``session_fraction`` through the session (mean 1)."""
        drift = self.meta.get("gain_drift", 0.0) * (session_fraction - self.meta.get("vendor_gain_at", 0.5))
        return response(
            self.pixel_gain.astype(np.float64),
            self.etching,
            self.gamma(dose_rate),
            drift=drift * self.drift_pattern if drift and self.drift_pattern is not None else None,
            coincidence=pixel_coincidence(self.coincidence_limits, dose_rate),
        )

    def stack_gain(self, index: int) -> np.ndarray:
        """True response of stack ``index`` (its dose rate, its time in the session; mean 1)."""
        stack = self.stack(index)
        return self.gain(stack.dose_rate, stack.session_fraction)

    def _ragged(self, name: str, index: int) -> np.ndarray:
        ptr = self._data[f"{name}_ptr"]
        return self._data[name][ptr[index] : ptr[index + 1]]

    def stack(self, index: int) -> StackTruth:
        d = self._data
        return StackTruth(
            dose_rate=float(d["dose_rate"][index]),
            dose_per_frame=float(d["dose_per_frame"][index]),
            detected_per_frame=float(d["detected_per_frame"][index]),
            n_frames=int(d["n_frames"][index]),
            specimen=str(d["specimen"][index]),
            hot_indices=self._ragged("hot_indices", index).astype(np.int64),
            hot_rates=self._ragged("hot_rates", index),
            dead_indices=self._ragged("dead_indices", index).astype(np.int64),
            drift=d["drift"][index],
            session_fraction=float(d["session_fraction"][index]) if "session_fraction" in d else 0.5,
        )

    def outlier_masks(
        self, index: int, hot_sigma: float = 6.0, ambiguous_sigma: float = 2.5
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(true_outliers, ambiguous)`` boolean masks of stack ``index`` (see module docstring)."""
        s = self.stack(index)
        clean = (
            s.n_frames * s.detected_per_frame * self.gain(s.dose_rate, s.session_fraction) * self.line_factor
        )
        excess = s.n_frames * spread_hot_pixels(self.shape, s.hot_indices, s.hot_rates)
        significance = excess / np.sqrt(np.maximum(clean, 1e-9))
        truth = significance >= hot_sigma
        ambiguous = (significance >= ambiguous_sigma) & ~truth
        dead = np.zeros(self.shape, bool).reshape(-1)
        dead[s.dead_indices] = True
        dead = dead.reshape(self.shape)
        detectable = np.sqrt(clean) >= hot_sigma
        truth |= dead & detectable
        ambiguous |= dead & ~detectable
        return truth, ambiguous & ~truth

    def line_defects(self, min_excess: float = 0.2) -> np.ndarray:
        """Pixels of warm or cold line defects whose relative excess or deficit is at least ``min_excess``."""
        return np.abs(self.line_factor - 1) >= min_excess - 1e-6

    def hot_mask(self, index: int) -> np.ndarray:
        """Centres of the hot pixels of stack ``index``."""
        mask = np.zeros(self.shape[0] * self.shape[1], bool)
        mask[self.stack(index).hot_indices] = True
        return mask.reshape(self.shape)

    def dead_mask(self, index: int) -> np.ndarray:
        mask = np.zeros(self.shape[0] * self.shape[1], bool)
        mask[self.stack(index).dead_indices] = True
        return mask.reshape(self.shape)
