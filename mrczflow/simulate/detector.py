"""A counting direct-electron detector with known defects (the simulator's physics).

Expected counts of pixel ``p`` in one frame of a stack at dose rate delta::

    lambda_p = d * c(delta) * G_p(delta) * S_p(t) * alive_p  +  k * L_p  +  H_p

- ``d``: incident dose per frame (e/px/frame) = delta * frame time.
- ``c(delta) = 1 / (1 + delta / delta_c)``: coincidence loss of counting (two
  electrons in one read-out period count once); 10% at 9 e/px/s by default.
- ``G(delta) = P * exp(gamma(delta) * E)``, normalised to mean 1: ``P`` is the
  per-pixel sensitivity (stable, high frequency), ``E`` the etching pattern of
  the active layer (low-frequency diagonal sweeps). Its strength scales with
  dose rate through ``gamma(delta)`` (:class:`~mrczflow.gamma.GammaLaw`), so the
  vendor gain ``1 / (P * exp(E))`` (taken where gamma = 1) flattens the etching
  at delta only when raised to ``gamma(delta)``: the best exponent of paper
  Eq. 10 follows the law exactly, up to shot noise.
- ``S(t)``: the specimen (1 in vacuum), drifting during the exposure.
- ``k * L``: additive CMOS read-out pattern (horizontal lines on the right
  half, zero mean over any 64 rows), ``k`` counts/frame. Not in the vendor
  gain, so gamma cannot remove it; KOMA can.
- ``H``: hot pixels of this stack, each with an extra count rate, spread to
  its neighbours by the K2 point-spread table; ``alive`` is 0 on dead pixels.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage

from ..gain.law import GammaLaw
from ..outliers.fill import K2_PSF


def psf_kernel() -> np.ndarray:
    """The 5x5 K2 point-spread kernel (centre weight 1)."""
    kernel = np.zeros((5, 5), np.float64)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            kernel[dy + 2, dx + 2] = K2_PSF[(abs(dy), abs(dx))]
    return kernel


def knob(default, help: str):  # noqa: A002 - mirrors click's option name
    """A dataclass field that carries its command-line help text."""
    return dataclasses.field(default=default, metadata={"help": help})


K2_PIXELS = 3838 * 3710


@dataclasses.dataclass(frozen=True)
class DetectorConfig:
    """Knobs of the detector model (defaults: a K2 Summit in counting mode, from the paper)."""

    shape: tuple[int, int] = knob((512, 512), "frame size ny,nx (K2: 3838,3710; unit tests: 64,64)")
    pixel_sigma: float = knob(0.03, "per-pixel sensitivity spread (std of its log)")
    etching_amplitude: float = knob(0.04, "etching pattern strength (std of its log at gamma = 1)")
    etching_waves: int = knob(6, "number of diagonal sweeps in the etching pattern")
    cmos_counts: float = knob(0.04, "CMOS read-out line pattern, counts/frame (std)")
    coincidence_dose_rate: float = knob(
        80.0, "counting coincidence loss: counted = rate/(1+rate/this); 0 = none"
    )
    hot_fraction_start: float = knob(5500 / K2_PIXELS, "hot pixels at the session start, fraction of pixels")
    hot_fraction_end: float = knob(
        12300 / K2_PIXELS, "hot pixels after --hot-growth-dose, fraction of pixels"
    )
    hot_growth_dose: float = knob(500 * 100 * 1.2, "cumulative dose (e/px) over which hot pixels grow")
    hot_persistence: float = knob(0.6, "share of a movie's hot pixels still hot in the next movie")
    hot_rate_min: float = knob(1.0, "weakest hot pixel, extra counts/frame")
    hot_rate_max: float = knob(12.0, "strongest hot pixel, extra counts/frame (log-uniform between)")
    dead_fraction_start: float = knob(160 / K2_PIXELS, "dead pixels at the start, fraction of pixels")
    dead_fraction_end: float = knob(180 / K2_PIXELS, "dead pixels after --hot-growth-dose (they stay dead)")
    gain_reference_counts: float = knob(20000.0, "counts/pixel in the vendor's gain flat (sets its noise)")
    hot_rate_model: str = knob(
        "log-uniform", "hot pixel rates: log-uniform (paper) or graded (gamma: many faint, few bright)"
    )
    hot_rate_mean: float = knob(1.0, "graded model: mean extra counts/frame of a hot pixel")
    hot_rate_shape: float = knob(0.5, "graded model: gamma shape of the rates (below 1: mostly faint)")
    hot_cluster_fraction: float = knob(0.0, "share of new hot pixels that come as 2-3 px clusters")
    line_defects: int = knob(0, "warm or cold rows/columns, whole or segments of 64 px or more")
    line_excess: tuple[float, float] = knob((0.2, 0.6), "range of a line defect's relative excess or deficit")
    gain_drift: float = knob(
        0.0, "drifting gain: a low-frequency response pattern grows over the session by this (std of its log)"
    )
    vendor_gain_at: float = knob(
        0.5, "drifting gain: where in the session (0 start, 1 end) the vendor's gain matches the response"
    )
    coincidence_spread: float = knob(0.0, "per-pixel spread of coincidence_dose_rate (std of its log)")
    gamma: GammaLaw = knob(GammaLaw(), "gamma(dose rate) law of the etching response (paper Eq. 11)")


class Detector:
    """The fixed parts of one simulated detector: gain, etching, read-out lines, vendor gain.

    Memory: a few frame-sized float32 images.
    """

    def __init__(self, config: DetectorConfig, rng: np.random.Generator) -> None:
        self.config = config
        ny, nx = config.shape
        self.pixel_gain = np.exp(rng.normal(0.0, config.pixel_sigma, config.shape)).astype(np.float32)
        self.etching = self._etching(rng).astype(np.float32)
        self.lines = self._lines(rng).astype(np.float32)
        counts = config.gain_reference_counts
        flat = self.pixel_gain * np.exp(self.etching)
        noisy = flat * (1 + rng.normal(0, 1 / np.sqrt(counts), config.shape)) if counts > 0 else flat
        self.vendor_gain = (noisy.mean() / noisy).astype(np.float32)
        # Drawn last, and only when asked for: the default model's random stream is unchanged.
        self.line_factor = (
            self._line_defects(rng) if config.line_defects else np.ones(config.shape, np.float32)
        )
        self.drift_pattern = (
            self._sweeps(rng, 1.0).astype(np.float32)
            if config.gain_drift
            else np.zeros(config.shape, np.float32)
        )
        self.coincidence_limits = (
            (
                config.coincidence_dose_rate
                * np.exp(rng.normal(0.0, config.coincidence_spread, config.shape))
            ).astype(np.float32)
            if config.coincidence_spread and config.coincidence_dose_rate > 0
            else None
        )

    def _etching(self, rng: np.random.Generator) -> np.ndarray:
        """Low-frequency sweeps, mostly diagonal, with std ``etching_amplitude``."""
        return self._sweeps(rng, self.config.etching_amplitude)

    def _sweeps(self, rng: np.random.Generator, amplitude: float) -> np.ndarray:
        """``etching_waves`` low-frequency sweeps, mostly diagonal, scaled to std ``amplitude``."""
        ny, nx = self.config.shape
        y, x = np.mgrid[0:ny, 0:nx].astype(np.float64)
        pattern = np.zeros((ny, nx))
        size = max(ny, nx)
        for _ in range(self.config.etching_waves):
            angle = np.deg2rad(45 + rng.normal(0, 12)) * rng.choice([-1, 1])
            wavelength = size * rng.uniform(0.15, 0.6)
            phase = rng.uniform(0, 2 * np.pi)
            pattern += rng.uniform(0.5, 1) * np.sin(
                2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / wavelength + phase
            )
        pattern -= pattern.mean()
        return pattern * (amplitude / pattern.std()) if pattern.std() else pattern

    def _line_defects(self, rng: np.random.Generator) -> np.ndarray:
        """Multiplicative factor of warm (> 1) and cold (< 1) rows and columns, whole or segments >= 64 px."""
        ny, nx = self.config.shape
        factor = np.ones((ny, nx), np.float32)
        low, high = self.config.line_excess
        for _ in range(self.config.line_defects):
            column = rng.random() < 0.5
            length = ny if column else nx
            index = int(rng.integers(0, nx if column else ny))
            size = length if rng.random() < 0.5 or length <= 128 else int(rng.integers(64, length // 2 + 1))
            start = int(rng.integers(0, length - size + 1))
            change = float(rng.uniform(low, high)) * (1 if rng.random() < 0.5 else -1)
            if column:
                factor[start : start + size, index] = 1 + change
            else:
                factor[index, start : start + size] = 1 + change
        return factor

    def _lines(self, rng: np.random.Generator) -> np.ndarray:
        """Horizontal read-out lines on the right half, zero mean over every 64-row band."""
        ny, nx = self.config.shape
        rows = rng.normal(0, 1, ny)
        for start in range(0, ny, 64):
            rows[start : start + 64] -= rows[start : start + 64].mean()
        lines = np.zeros((ny, nx))
        lines[:, nx // 2 :] = rows[:, None]
        return lines

    def coincidence(self, dose_rate: float) -> float:
        """Fraction of electrons counted at ``dose_rate`` e/px/s."""
        limit = self.config.coincidence_dose_rate
        return 1.0 if limit <= 0 else 1.0 / (1.0 + dose_rate / limit)

    def gain(self, dose_rate: float, session_fraction: float = 0.5) -> np.ndarray:
        """True multiplicative response at ``dose_rate``, ``session_fraction`` of the way through the session (mean 1).

        With ``gain_drift`` its low-frequency drift pattern grows linearly over
        the session (none at ``vendor_gain_at``, where the vendor's gain is taken: its middle by default);
        with ``coincidence_spread`` each pixel loses its own share of
        electrons to coincidence at this rate.
        """
        drift = self.config.gain_drift * (session_fraction - self.config.vendor_gain_at)
        return response(
            self.pixel_gain,
            self.etching,
            self.config.gamma(dose_rate),
            drift=drift * self.drift_pattern if drift else None,
            coincidence=pixel_coincidence(self.coincidence_limits, dose_rate),
        ).astype(np.float32)


def pixel_coincidence(limits: np.ndarray | None, dose_rate: float) -> np.ndarray | None:
    """Each pixel's counted fraction ``1 / (1 + rate / limit)`` relative to the detector's mean (None: all alike)."""
    if limits is None:
        return None
    counted = 1.0 / (1.0 + dose_rate / limits.astype(np.float64))
    return counted / counted.mean()


def response(
    pixel_gain: np.ndarray,
    etching: np.ndarray,
    gamma: float,
    *,
    drift: np.ndarray | None = None,
    coincidence: np.ndarray | None = None,
) -> np.ndarray:
    """The detector's true response, mean 1: pixel sensitivity, etching to the power gamma, drift and
    per-pixel coincidence loss. One formula for the simulator and its ground truth (in the dtype of
    ``pixel_gain``, so the default model's numbers are unchanged)."""
    exponent = gamma * etching
    if drift is not None:
        exponent = exponent + drift
    value = pixel_gain * np.exp(exponent)
    if coincidence is not None:
        value = value * coincidence.astype(value.dtype)
    return value / value.mean()


def spread_hot_pixels(shape: tuple[int, int], indices: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Extra counts/frame of hot pixels at flat ``indices``, spread by the K2 point-spread table."""
    impulses = np.zeros(shape, np.float64)
    np.add.at(impulses.reshape(-1), indices, rates)
    return ndimage.convolve(impulses, psf_kernel(), mode="constant").astype(np.float32)
