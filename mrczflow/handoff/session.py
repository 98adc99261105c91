"""The session-wide pieces of a hand-off: one gain reference and one defect map for the whole session.

MotionCor2/3, cryoSPARC and RELION's motion correction take one gain and one
defect file per run. Ours are made from what the workflow keeps, never from
the frames again:

- the **gain** is the gain the workflow applies before KOMA (the vendor gain
  in the movies' orientation, raised to gamma at the session's median dose
  rate when gamma is on), times the reciprocal flat field of the KOMA sums of
  an evenly spaced sample of stacks (paper section 5.2 over the sample instead
  of a moving window; stacks the KOMA screen keeps out are left out here too)
  -- but only if that flat field earns its place: made from half of the
  sample, it must flatten the other half (both ways round: a lower relative
  spread of the held-out sum, which counts gain errors at every scale) beyond
  what the gain alone does. Otherwise its own noise would be stamped on every movie
  (a short session against a good vendor gain), and the gain alone is handed
  off; :func:`session_gain` says which and by how much;
- the **defect map** marks the pixels the outlier filter flagged in at least
  ``persistent`` of the sample's stacks: detector defects, not one stack's
  cosmic ray or a transient hot pixel (those stay per movie: RELION's
  per-movie STARs carry each stack's own).

Reading a fixed-size sample keeps the step's cost independent of the session's
length.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from .. import mrcz
from ..koma.settings import KomaSettings
from ..koma.steps import WindowSum, sum_shape

SAMPLE = 24


def evenly_spaced(items: Sequence, count: int = SAMPLE) -> list:
    """Up to ``count`` items spread evenly over ``items``, the first and last included."""
    if len(items) <= count:
        return list(items)
    positions = np.linspace(0, len(items) - 1, count).round().astype(int)
    return [items[i] for i in sorted(set(positions.tolist()))]


def persistent_defects(mask_paths: Sequence[str | os.PathLike], persistent: float = 0.5) -> np.ndarray:
    """Pixels flagged (any outlier flag) in at least ``persistent`` of the stacks' masks."""
    if not mask_paths:
        raise ValueError("no outlier masks to make a defect map from")
    count = None
    for path in mask_paths:
        flagged = mrcz.read(path) != 0
        flagged = flagged[0] if flagged.ndim == 3 else flagged
        if count is None:
            count = np.zeros(flagged.shape, np.int32)
        elif flagged.shape != count.shape:
            raise ValueError(f"{os.fspath(path)}: mask is {flagged.shape}, the others {count.shape}")
        count += flagged
    return count >= max(1, int(np.ceil(persistent * len(mask_paths))))


def block_spread(image: np.ndarray, block: int = 8) -> float:
    """Relative spread of ``block`` x ``block`` means: the fixed pattern left in a sum."""
    ny, nx = (n // block * block for n in image.shape)
    if ny == 0 or nx == 0:
        return float(np.std(image) / max(np.mean(image), 1e-12))
    means = (
        np.asarray(image, np.float64)[:ny, :nx]
        .reshape(ny // block, block, nx // block, block)
        .mean(axis=(1, 3))
    )
    return float(means.std() / max(means.mean(), 1e-12))


def relative_spread(image: np.ndarray) -> float:
    """Standard deviation over mean of a whole image: shot noise, specimen and every gain error together.

    Two gains applied to the same held-out sum differ only by their errors, at
    every scale (a smooth pattern one misses, the pixel noise the other adds).
    """
    image = np.asarray(image, np.float64)
    return float(image.std() / max(image.mean(), 1e-12))


def pixel_spread(image: np.ndarray, size: int = 9) -> float:
    """Relative spread of each pixel about its ``size``-px neighbourhood: pixel-to-pixel pattern and shot noise.

    Specimen and slow gain variations divide out; what a gain leaves wrong
    from pixel to pixel (its own noise, a missing pixel pattern) adds to it.
    """
    from scipy import ndimage

    image = np.asarray(image, np.float64)
    local = ndimage.uniform_filter(image, size, mode="nearest")
    ratio = np.divide(image, local, out=np.ones_like(image), where=local > 0)
    return float(ratio.std())


#: Less than this (0.01% points of relative spread) is no flattening: a KOMA flat field that adds
#: next to nothing to a good gain (its pattern all below the window's noise) is not worth a second gain.
MEANINGFUL_FLATTENING = 1e-4


def _window(paths: Sequence[str | os.PathLike], settings: KomaSettings) -> WindowSum:
    window = WindowSum("", sum_shape(paths[0]), settings)
    for path in paths:
        window.add(path)
    return window


def _merged(parts: Sequence[WindowSum], settings: KomaSettings) -> WindowSum:
    """One window holding the stacks of ``parts`` (their sums added; nothing read again)."""
    merged = WindowSum("", parts[0].total.shape, settings)
    for part in parts:
        merged.merge(part)
    return merged


def session_gain(
    koma_sums: Sequence[str | os.PathLike],
    pre_gain: np.ndarray | None,
    settings: KomaSettings | None = None,
) -> tuple[np.ndarray | None, str]:
    """The session's multiplicative gain (float32) and a sentence on how it was made (module doc).

    With no KOMA sums it is ``pre_gain`` (None when there is none either); with
    no ``pre_gain`` it is the sample's KOMA flat field.
    """
    settings = settings or KomaSettings()
    if not koma_sums:
        if pre_gain is None:
            return None, "no gain: no gain reference and KOMA off"
        return np.asarray(pre_gain, np.float32), "the gain applied before KOMA (KOMA off)"
    halves = [list(koma_sums[0::2]), list(koma_sums[1::2])]
    parts = [_window(half, settings) for half in halves if half]  # each sum read once
    window = _merged(parts, settings)
    koma = window.correction(pre_gain).gain_reference().astype(np.float32)
    if pre_gain is None:
        return koma, f"KOMA's flat field of {window.n_stacks} stacks (no gain reference)"
    if min(len(h) for h in halves) < 2:
        return koma, f"the gain before KOMA times KOMA's flat field of {window.n_stacks} stacks"
    before = np.asarray(pre_gain, np.float64)
    better = []
    for made, tested in ((0, 1), (1, 0)):
        flat = parts[made].correction(pre_gain).gain_reference()
        held = parts[tested].total.astype(np.float64)
        better.append(relative_spread(held * before) - relative_spread(held * flat))
    if min(better) > MEANINGFUL_FLATTENING:
        return koma, (
            f"the gain before KOMA times KOMA's flat field of {window.n_stacks} stacks (made from half the"
            f" sample, it flattened the other half further: relative spread down {min(better):.2%} points)"
        )
    return np.asarray(pre_gain, np.float32), (
        f"the gain before KOMA alone: KOMA's flat field of {window.n_stacks} stacks did not flatten"
        " stacks it was not made from (a short session against a good gain reference)"
    )
