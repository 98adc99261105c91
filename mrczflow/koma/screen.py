"""The high-contrast screen: stacks of carbon film or crystalline ice are kept out of KOMA windows.

Two views of each stack, both against the window's own pattern (the
block-wise median of its stacks, so the detector's pattern and its drift do
not count): its contrast (the spread of its 32-px block means) and its
straightest edge (:func:`edge_strength`: the largest step across any
straight line, from median profiles along lines). A thin carbon film has
little contrast but a straight edge across the frame; particles and ice have
neither.
"""

from __future__ import annotations

import numpy as np


def contrast(total: np.ndarray, gain: np.ndarray | None = None, block: int = 32) -> float:
    """Specimen contrast of a stack sum: relative spread of its ``block``-px means beyond shot noise.

    Gain-normalised first when ``gain`` is given. Vitreous ice with particles
    stays near the detector's own flat-field spread (a few per cent); carbon
    film and crystalline ice reach 10-20%.
    """
    # Without a gain the counts' blocks are summed as integers (block_means): no float64 copy of the sum.
    means = block_means(total if gain is None else np.asarray(total, np.float64) * gain, block)
    level = means.mean()
    if level <= 0:
        return 0.0
    shot = (
        1.0 / (level * block * block) if gain is None else float(np.mean(gain**2)) / (level * block * block)
    )
    return float(np.sqrt(max(means.var() / level**2 - shot, 0.0)))


def block_sums(total: np.ndarray, block: int = 32) -> np.ndarray:
    """Sums of the whole ``block``-px blocks of an integer image (int64, exact), rows first.

    Rows are added first (whole contiguous rows at a time, which vectorises),
    then the columns of each block: a third faster than the other order on a
    4k sum, and the same integers. The partial blocks at the edges are left out.
    """
    image = _whole_blocks(total, block)
    if image.dtype.kind not in "iub":
        raise TypeError(f"block sums are of counts (an integer image), not {image.dtype}")
    ny, nx = image.shape
    rows = image.reshape(ny // block, block, nx).sum(axis=1, dtype=np.int64)
    return rows.reshape(ny // block, nx // block, block).sum(axis=2)


def _whole_blocks(total: np.ndarray, block: int) -> np.ndarray:
    """``total`` without the partial ``block``-px blocks at its far edges (a view)."""
    image = np.asarray(total)
    ny, nx = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    if ny == 0 or nx == 0:
        raise ValueError(f"a {image.shape} image is smaller than one {block}-px block")
    return image[:ny, :nx]


def block_means(total: np.ndarray, block: int = 32) -> np.ndarray:
    """Means of the ``block``-px blocks of a stack sum (float64), the screen's view of a stack.

    Counts are summed as integers (:func:`block_sums`: no float64 copy of the frame): the float64 sum
    of a block of counts is exact too (below 2**53), so the means are the same to the last bit, in
    a third of the time.
    """
    image = np.asarray(total)
    if image.dtype.kind in "iub" and image.dtype.itemsize <= 4:
        return block_sums(image, block) / float(block * block)
    image = _whole_blocks(image, block)
    ny, nx = image.shape
    return image.reshape(ny // block, block, nx // block, block).astype(np.float64).mean(axis=(1, 3))


def edge_block(shape: tuple[int, ...]) -> int:
    """Block size (px) of :func:`edge_strength`'s view: 8 px, coarser on frames over 1024 px (~128 blocks across)."""
    return max(8, min(shape[-2:]) // 128)


def edge_strength(relative: np.ndarray, angles: int = 72, width: int = 2, least: float = 0.3) -> float:
    """The largest step across a straight line in an image of relative block means (a film's edge).

    For each of ``angles`` directions the image is reduced to its profile
    across lines of that direction: the *median* of the blocks on each line,
    so particles and other compact features do not move it, while an edge
    spanning the frame moves every block on one side. The step at each place
    is the mean of ``width`` lines after it minus the ``width`` before it
    (smooth ice changes little over so few lines; an edge jumps); lines with
    fewer than ``least`` of the longest line's blocks (the corners) are not
    used. Returns the largest absolute step (relative units: about 0.07 for
    the edge of a film passing 93% of the beam).
    """
    image = np.asarray(relative, np.float64)
    ny, nx = image.shape
    y, x = np.mgrid[0:ny, 0:nx]
    y, x = (y - (ny - 1) / 2).ravel(), (x - (nx - 1) / 2).ravel()
    by_value = np.argsort(image.ravel())
    values = image.ravel()[by_value] - np.median(image)
    y, x = y[by_value], x[by_value]
    last = values.size - 1
    strongest = 0.0
    for angle in np.linspace(0, np.pi, angles, endpoint=False):
        line = np.rint(x * np.cos(angle) + y * np.sin(angle)).astype(np.int64)
        line -= line.min()
        counts = np.bincount(line)
        # Values are in order already; a stable sort by line (a radix sort for 16-bit keys) keeps them
        # in order within each line, so each line's median is in its middle.
        keys = line.astype(np.int16) if line.max() < 2**15 else line
        ordered = values[np.argsort(keys, kind="stable")]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        low, high = starts + np.maximum(counts - 1, 0) // 2, starts + counts // 2
        profile = 0.5 * (ordered[np.minimum(low, last)] + ordered[np.minimum(high, last)])
        long_enough = np.concatenate([[0], np.cumsum(counts >= least * counts.max())])
        running = np.concatenate([[0.0], np.cumsum(profile)])
        at = np.arange(width, profile.size - width + 1)
        usable = (long_enough[at + width] - long_enough[at - width]) == 2 * width
        if usable.any():
            step = (running[at + width] - 2 * running[at] + running[at - width]) / width
            strongest = max(strongest, float(np.abs(step[usable]).max()))
    return strongest


def _limit(values: list[float], floor: float, limit_sigmas: float) -> tuple[float, float]:
    """The window's median of ``values`` and the limit above it (``floor``, or more robust sigmas in a wide spread)."""
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(np.array(values) - median)))
    widened = limit_sigmas * spread if len(values) >= 9 else 0.0
    return median, median + max(floor, widened)


def window_screen(
    blocks: dict[str, np.ndarray],
    block: int = 32,
    limit_sigmas: float = 5.0,
    threshold: float = 0.08,
    floor: float = 0.02,
    edges: dict[str, np.ndarray] | None = None,
    edge_floor: float = 0.02,
    edge_neighbours: int = 6,
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
    ``edges``: each stack's block means at :func:`edge_block` px (in the
    window's order), each divided by the block-wise median of its
    ``edge_neighbours`` nearest stacks (nearest: a drifting gain then differs
    little between it and them); a stack whose :func:`edge_strength` is more
    than ``edge_floor`` above the window's median (or as many robust sigmas,
    as above) has a straight edge (a film) and is kept out too. Returns, per stack, its contrast, the window's median
    and limit (and the same for the edge), and the decision.
    """
    if len(blocks) < 3:
        raise ValueError("the window screen needs at least 3 stacks to judge one against the others")
    names = list(blocks)
    values = _against_window([blocks[s] for s in names], block)
    median, limit = _limit(values, floor, limit_sigmas)
    limit = min(threshold, limit)
    evidence = {
        name: {"contrast": value, "median": median, "limit": limit, "excluded": value > limit}
        for name, value in zip(names, values, strict=True)
    }
    if edges is not None:
        fine = [edges[s] / edges[s].mean() for s in names]
        strengths = []
        for index, image in enumerate(fine):
            near = sorted((k for k in range(len(fine)) if k != index), key=lambda k: abs(k - index))
            reference = np.median([fine[k] for k in near[:edge_neighbours]], axis=0)
            strengths.append(edge_strength(image / reference))
        edge_median, edge_limit = _limit(strengths, edge_floor, limit_sigmas)
        for name, strength in zip(names, strengths, strict=True):
            straight = strength > edge_limit
            evidence[name].update(
                {
                    "edge": strength,
                    "edge_median": edge_median,
                    "edge_limit": edge_limit,
                    "straight_edge": straight,
                }
            )
            evidence[name]["excluded"] = bool(evidence[name]["excluded"] or straight)
    return evidence


def _against_window(blocks: list[np.ndarray], block: int) -> list[float]:
    """Each stack's contrast beyond shot noise over the window's block-wise median pattern."""
    relative = np.array([image / image.mean() for image in blocks])
    reference = np.median(relative, axis=0)
    values = []
    for image, scaled in zip(blocks, relative, strict=True):
        level = image.mean()
        shot = 1.0 / (level * block * block) if level > 0 else 0.0
        values.append(float(np.sqrt(max((scaled / reference).var() - shot, 0.0))))
    return values
