"""The high-contrast screen: stacks of carbon film or crystalline ice are kept out of KOMA windows."""

from __future__ import annotations

import numpy as np


def contrast(total: np.ndarray, gain: np.ndarray | None = None, block: int = 32) -> float:
    """Specimen contrast of a stack sum: relative spread of its ``block``-px means beyond shot noise.

    Gain-normalised first when ``gain`` is given. Vitreous ice with particles
    stays near the detector's own flat-field spread (a few per cent); carbon
    film and crystalline ice reach 10-20%.
    """
    image = np.asarray(total, np.float64)
    if gain is not None:
        image = image * gain
    ny, nx = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    if ny == 0 or nx == 0:
        raise ValueError(f"a {image.shape} image is smaller than one {block}-px block")
    means = image[:ny, :nx].reshape(ny // block, block, nx // block, block).mean(axis=(1, 3))
    level = means.mean()
    if level <= 0:
        return 0.0
    shot = (
        1.0 / (level * block * block) if gain is None else float(np.mean(gain**2)) / (level * block * block)
    )
    return float(np.sqrt(max(means.var() / level**2 - shot, 0.0)))
