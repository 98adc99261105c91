"""The session-wide pieces of a hand-off: one gain reference and one defect map for the whole session.

MotionCor2/3, cryoSPARC and RELION's motion correction take one gain and one
defect file per run. Ours are made from what the workflow keeps, never from
the frames again:

- the **gain** is the gain the workflow applies before KOMA (the vendor gain
  in the movies' orientation, raised to gamma at the session's median dose
  rate when gamma is on), times the reciprocal flat field of the KOMA sums of
  an evenly spaced sample of stacks (paper section 5.2 over the sample instead
  of a moving window; stacks the KOMA screen keeps out are left out here too);
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


def session_gain(
    koma_sums: Sequence[str | os.PathLike],
    pre_gain: np.ndarray | None,
    settings: KomaSettings | None = None,
) -> np.ndarray | None:
    """The session's multiplicative gain (float32): ``pre_gain`` times the sample's KOMA flat field.

    With no KOMA sums it is ``pre_gain`` (None when there is none either).
    """
    if not koma_sums:
        return None if pre_gain is None else np.asarray(pre_gain, np.float32)
    window = WindowSum("", sum_shape(koma_sums[0]), settings or KomaSettings())
    for path in koma_sums:
        window.add(path)
    return window.correction(pre_gain).gain_reference().astype(np.float32)
