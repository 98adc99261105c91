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
    means = block_means(image if gain is None else image * gain, block)
    level = means.mean()
    if level <= 0:
        return 0.0
    shot = (
        1.0 / (level * block * block) if gain is None else float(np.mean(gain**2)) / (level * block * block)
    )
    return float(np.sqrt(max(means.var() / level**2 - shot, 0.0)))


def block_means(total: np.ndarray, block: int = 32) -> np.ndarray:
    """Means of the ``block``-px blocks of a stack sum (float64), the screen's view of a stack."""
    image = np.asarray(total, np.float64)
    ny, nx = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    if ny == 0 or nx == 0:
        raise ValueError(f"a {image.shape} image is smaller than one {block}-px block")
    return image[:ny, :nx].reshape(ny // block, block, nx // block, block).mean(axis=(1, 3))


def window_screen(
    blocks: dict[str, np.ndarray],
    block: int = 32,
    limit_sigmas: float = 5.0,
    threshold: float = 0.08,
    floor: float = 0.02,
) -> dict[str, dict[str, float | bool]]:
    """Which stacks of a window stand out from the others: the screen judged against the session.

    ``blocks``: each stack's :func:`block_means` (at least 3 stacks). Each is
    divided by the block-wise median of all of them (the window's own pattern:
    the detector's gain, its drift, the illumination), so what remains is the
    stack's specimen; its contrast is the relative spread of that beyond shot
    noise. A stack is kept out when its contrast is more than ``floor`` above
    the window's median (in a window of 9 stacks or more whose contrasts spread
    widely: more than ``limit_sigmas`` robust sigmas above it; a smaller
    window's spread says too little to widen the limit), or above
    ``threshold`` whatever the others. Leaving an ordinary stack out costs a
    window one stack; keeping a film in puts its pattern on every neighbour.
    Returns, per stack, its contrast, the window's median and limit, and the decision.
    """
    if len(blocks) < 3:
        raise ValueError("the window screen needs at least 3 stacks to judge one against the others")
    names = list(blocks)
    relative = np.array([blocks[s] / blocks[s].mean() for s in names])
    reference = np.median(relative, axis=0)
    values = []
    for name, image in zip(names, relative, strict=True):
        level = blocks[name].mean()
        shot = 1.0 / (level * block * block) if level > 0 else 0.0
        values.append(float(np.sqrt(max((image / reference).var() - shot, 0.0))))
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(np.array(values) - median)))
    widened = limit_sigmas * spread if len(values) >= 9 else 0.0
    limit = min(threshold, median + max(floor, widened))
    return {
        name: {"contrast": value, "median": median, "limit": limit, "excluded": value > limit}
        for name, value in zip(names, values, strict=True)
    }
