"""Robust clipping of an image, shared by the gamma fit and the gain's orientation check.

Its own module so that rule outliers, which checks the orientation on every
stack sum, does not import the fit (and scipy.optimize with it: 0.4 s a job).
"""

from __future__ import annotations

import numpy as np


def robust_clip(image: np.ndarray, clip_sigma: float = 6.0) -> np.ndarray:
    """Replace pixels beyond ``clip_sigma`` robust deviations (median absolute deviation) by the median."""
    image = np.asarray(image, dtype=np.float32)
    sample = image.ravel()[:: max(1, image.size // 200_000)]
    median = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - median))) or float(sample.std()) or 1.0
    return np.where(np.abs(image - median) > clip_sigma * spread, np.float32(median), image)
