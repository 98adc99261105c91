"""Images the KOMA tests build their simulated windows from."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def smooth(shape: tuple[int, int], scale: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth random field of std 1 (Gaussian of ``scale`` px, periodic): ice, or a detector's slow pattern."""
    image = ndimage.gaussian_filter(rng.normal(size=shape), scale, mode="wrap")
    return image / image.std()
