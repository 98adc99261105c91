"""The dose-rate law of the gain exponent, gamma(delta) (paper Eq. 11).

A vendor gain reference flattens the detector at one dose rate only. Raising
it to ``gamma(delta)`` corrects the etching pattern of the active layer at
other dose rates (paper section 5.1)::

    gamma(delta) = a1 * delta**b1 + a2 * delta + a3

The paper's fit on a K2 (delta in e/px/s over 0.25-9) is a1 = 0.12,
a2 = -0.0336, a3 = 1.04, b1 = -1.04; it crosses gamma = 1 near 2.55 e/px/s.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class GammaLaw:
    """``gamma(delta) = a1 * delta**b1 + a2 * delta + a3`` (paper Eq. 11)."""

    a1: float = 0.12
    a2: float = -0.0336
    a3: float = 1.04
    b1: float = -1.04

    def __call__(self, dose_rate: float | np.ndarray) -> float | np.ndarray:
        rate = np.asarray(dose_rate, dtype=np.float64)
        if np.any(rate <= 0):
            raise ValueError(f"dose rate must be > 0 e/px/s, got {dose_rate}")
        value = self.a1 * rate**self.b1 + self.a2 * rate + self.a3
        return float(value) if np.ndim(value) == 0 else value

    def as_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)
