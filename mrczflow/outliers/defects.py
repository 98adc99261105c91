"""The defect file that motion-correction programs read."""

from __future__ import annotations

import numpy as np

from .detect import LINE, Detection


def defect_list(detection: Detection) -> str:
    """MotionCor2's ``-DefectFile`` format (which RELION also reads): ``x y w h`` per line.

    One rectangle per line defect (a segment of a row or column), then one
    ``x y 1 1`` per other outlier pixel.
    """
    rectangles = [line.rectangle() for line in detection.lines]
    ys, xs = np.nonzero(detection.mask & ((detection.flags & LINE) == 0))
    rectangles += [(x, y, 1, 1) for y, x in zip(ys.tolist(), xs.tolist(), strict=True)]
    return "".join(f"{x} {y} {w} {h}\n" for x, y, w, h in rectangles)
