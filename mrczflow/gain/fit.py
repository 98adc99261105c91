"""Gamma-corrected gain (paper section 5.1): fitting gamma(delta) and applying it.

For each vacuum (flat) reference at dose rate delta, the best exponent
minimises the spread of the 64x64-smoothed product ``flat * gain**gamma``
(Eq. 10). We minimise its *relative* spread (std / mean), which is Eq. 10
made independent of the overall scale that ``gain**gamma`` also changes, with
a bounded 1-D minimiser (Brent, on ``gamma_bounds``). Before that, pixels
more than ``clip_sigma`` robust deviations from the median (hot and dead
pixels that the outlier filter would remove) are replaced by the median, so
a few outliers cannot pull the fit.

Across the series, ``gamma(delta) = a1 delta^b1 + a2 delta + a3`` (Eq. 11) is
fitted by least squares (``scipy.optimize.curve_fit``) with one-sigma
uncertainties from its covariance. At least 5 references are needed (4
parameters and one degree of freedom); a failed fit is refused with a
message, and gamma = 1 is used instead only when the caller asks.

Memory: one flat sum, the gain and a few frame-sized float32 arrays.
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import ndimage, optimize

from .law import GammaLaw
from .reference import FLIPS, ROTATIONS, orient
from .robust import robust_clip

MIN_REFERENCES = 5


class GammaFitError(ValueError):
    """The references do not determine gamma(delta)."""


def smoothed_spread(flat: np.ndarray, log_gain: np.ndarray, gamma: float, patch: int = 64) -> float:
    """Relative std over the field of view of the ``patch``-smoothed ``flat * gain**gamma`` (paper Eq. 10)."""
    product = flat * np.exp(np.float32(gamma) * log_gain)
    smooth = ndimage.uniform_filter(product, patch, mode="reflect")
    return float(smooth.std() / smooth.mean())


def best_gamma(
    flat: np.ndarray,
    gain: np.ndarray,
    patch: int = 64,
    gamma_bounds: tuple[float, float] = (0.2, 2.5),
    clip_sigma: float = 6.0,
) -> tuple[float, float]:
    """``(gamma, relative spread at gamma)`` minimising Eq. 10 for one flat (sum of its frames)."""
    clean = robust_clip(flat, clip_sigma)
    log_gain = np.log(np.asarray(gain, dtype=np.float32))
    result = optimize.minimize_scalar(
        lambda g: smoothed_spread(clean, log_gain, g, patch),
        bounds=gamma_bounds,
        method="bounded",
        options={"xatol": 1e-4},
    )
    if not result.success:
        raise GammaFitError(f"Eq. 10 minimisation failed: {result.message}")
    if min(abs(result.x - gamma_bounds[0]), abs(result.x - gamma_bounds[1])) < 1e-3:
        raise GammaFitError(
            f"best gamma {result.x:.3f} is at the search bound {gamma_bounds}: wrong gain or orientation?"
        )
    return float(result.x), float(result.fun)


@dataclasses.dataclass
class GammaFit:
    """Eq. 11 fitted to per-reference gammas."""

    law: GammaLaw
    uncertainty: dict[str, float]
    dose_rates: list[float]
    gammas: list[float]
    residuals: list[float]
    valid_range: tuple[float, float]
    fallback: bool = False

    def gamma(self, dose_rate: float) -> tuple[float, str | None]:
        """``(gamma, warning or None)`` for a stack at ``dose_rate``."""
        low, high = self.valid_range
        note = None
        if not low <= dose_rate <= high:
            note = f"dose rate {dose_rate:.3g} e/px/s is outside the fitted range {low:g}-{high:g}; gamma extrapolated"
        return (1.0 if self.fallback else float(self.law(dose_rate))), note

    def as_dict(self) -> dict:
        return {
            "model": "gamma(delta) = a1 * delta**b1 + a2 * delta + a3 (paper Eq. 11)",
            "parameters": self.law.as_dict(),
            "uncertainty": self.uncertainty,
            "references": [
                {"dose_rate": d, "gamma": g, "residual": r}
                for d, g, r in zip(self.dose_rates, self.gammas, self.residuals, strict=True)
            ],
            "valid_dose_rates": list(self.valid_range),
            "fallback_gamma_1": self.fallback,
        }

    @classmethod
    def read(cls, path: str | os.PathLike) -> GammaFit:
        """The fit rule fit_gamma wrote (YAML)."""
        import yaml

        return cls.from_dict(yaml.safe_load(Path(path).read_text()))

    @classmethod
    def from_dict(cls, record: dict) -> GammaFit:
        refs = record["references"]
        return cls(
            GammaLaw(**record["parameters"]),
            dict(record["uncertainty"]),
            [r["dose_rate"] for r in refs],
            [r["gamma"] for r in refs],
            [r["residual"] for r in refs],
            tuple(record["valid_dose_rates"]),
            bool(record.get("fallback_gamma_1", False)),
        )


def fit_gamma_law(
    dose_rates: Sequence[float], gammas: Sequence[float], *, allow_fallback: bool = False
) -> GammaFit:
    """Fit Eq. 11; refuse (or, if allowed, fall back to gamma = 1) when the series cannot determine it."""
    rates = np.asarray(dose_rates, dtype=np.float64)
    values = np.asarray(gammas, dtype=np.float64)
    order = np.argsort(rates)
    rates, values = rates[order], values[order]
    valid = (float(rates.min()), float(rates.max())) if rates.size else (0.0, 0.0)

    def fallback(reason: str) -> GammaFit:
        if not allow_fallback:
            raise GammaFitError(
                f"{reason}; set gamma.fallback_unity to use the plain gain (gamma = 1) instead"
            )
        return GammaFit(
            GammaLaw(0.0, 0.0, 1.0, -1.0),
            {},
            rates.tolist(),
            values.tolist(),
            (values - 1.0).tolist(),
            valid,
            fallback=True,
        )

    if rates.size < MIN_REFERENCES or np.unique(rates).size < MIN_REFERENCES:
        return fallback(
            f"{np.unique(rates).size} distinct reference dose rates; Eq. 11 needs at least {MIN_REFERENCES}"
        )

    def law(delta, a1, a2, a3, b1):
        return a1 * delta**b1 + a2 * delta + a3

    paper = GammaLaw()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", optimize.OptimizeWarning)
            params, covariance = optimize.curve_fit(
                law,
                rates,
                values,
                p0=[paper.a1, paper.a2, paper.a3, paper.b1],
                maxfev=20000,
                bounds=([-10, -10, -10, -5], [10, 10, 10, 5]),
            )
    except (RuntimeError, optimize.OptimizeWarning, ValueError) as exc:
        return fallback(f"Eq. 11 did not converge ({exc})")
    errors = np.sqrt(np.clip(np.diag(covariance), 0, None))
    if not np.all(np.isfinite(errors)):
        return fallback("Eq. 11 fit has undetermined parameters (infinite uncertainty)")
    fitted = GammaLaw(*map(float, params))
    residuals = values - law(rates, *params)
    return GammaFit(
        fitted,
        dict(zip(("a1", "a2", "a3", "b1"), map(float, errors), strict=True)),
        rates.tolist(),
        values.tolist(),
        residuals.tolist(),
        valid,
    )


def orientation_scores(flat: np.ndarray, gain: np.ndarray) -> dict[tuple[int, str], float]:
    """Relative std of ``flat * oriented gain`` for each of the 8 orientations that fit the frame shape.

    The right orientation removes the gain's pixel-to-pixel pattern from the
    flat; a wrong one adds it a second time.
    """
    clean = robust_clip(flat)
    scores = {}
    for rotate in ROTATIONS:
        for flip in ("none", "y"):
            oriented = orient(gain, rotate, flip)
            if oriented.shape == clean.shape:
                product = clean * robust_clip(oriented)
                scores[(rotate, flip)] = float(product.std() / product.mean())
    return scores


def check_orientation(
    flat: np.ndarray, gain: np.ndarray, rotate: int, flip: str
) -> tuple[tuple[int, str], dict]:
    """Detect the gain orientation from a flat; raise if the configured one is clearly worse.

    ``flip x`` equals ``rotate 180 + flip y``, so the 8 orientations are
    searched as 4 rotations x {none, y}; the configured one is compared in
    that form.
    """
    if flip not in FLIPS:
        raise GammaFitError(f"gain flip must be one of {FLIPS}")
    scores = orientation_scores(flat, gain)
    if not scores:
        raise GammaFitError(f"no orientation of the {gain.shape} gain fits {flat.shape} frames")
    best = min(scores, key=scores.get)
    configured = (rotate, flip) if flip != "x" else ((rotate + 180) % 360, "y")
    if configured not in scores or scores[configured] > 1.05 * scores[best] + 1e-9:
        found = f"rotate {best[0]}, flip {best[1]}"
        have = f"{scores.get(configured, math.nan):.4f}" if configured in scores else "does not fit"
        raise GammaFitError(
            f"gain orientation (rotate {rotate}, flip {flip}) disagrees with the references: "
            f"{found} flattens them best (relative spread {scores[best]:.4f} vs {have}); set gain.rotate/gain.flip"
        )
    return best, {f"rotate {r} flip {f}": s for (r, f), s in scores.items()}


def gain_to_gamma(gain: np.ndarray, gamma: float) -> np.ndarray:
    """``gain ** gamma`` as float32: one stack's gamma-corrected gain reference (paper section 5.1)."""
    return np.power(gain, np.float32(gamma), dtype=np.float32)


def apply_gamma_gain(
    frame: np.ndarray, gain: np.ndarray, gamma: float, cmos: np.ndarray | None = None
) -> np.ndarray:
    """Paper Eq. 9: ``(frame - I_CMOS) * gain**gamma`` as float32."""
    image = frame.astype(np.float32)
    if cmos is not None:
        image -= cmos
    return image * gain_to_gamma(gain, gamma)
