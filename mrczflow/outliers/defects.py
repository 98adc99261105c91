"""The defect file that motion-correction programs read."""

from __future__ import annotations

import numpy as np

from .detect import Detection


def defect_list(detection: Detection) -> str:
    """One ``x y 1 1`` rectangle per outlier: MotionCor2's ``-DefectFile`` format, which RELION also reads."""
    ys, xs = np.nonzero(detection.mask)
    return "".join(f"{x} {y} 1 1\n" for y, x in zip(ys.tolist(), xs.tolist(), strict=True))
