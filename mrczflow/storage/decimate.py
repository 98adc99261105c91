"""Lossless decimation of counts to uint8, or a loud failure.

Counted data are small integers; storing them as uint8 loses nothing as long
as every value is an integer in 0-255. Anything else (NaN, a fraction, a
negative value, a count above 255) is reported with the frame, the number of
pixels affected and the first position, never silently changed. With
``allow_clipping`` the out-of-range integer counts are clipped and counted,
and the caller records that count in the file's metadata.
"""

from __future__ import annotations

import numpy as np


class DecimationError(ValueError):
    """A frame cannot be stored as uint8 without changing a value."""


def _first(mask: np.ndarray) -> str:
    y, x = np.argwhere(mask)[0]
    return f"first at y={y}, x={x}"


def to_uint8(frame: np.ndarray, index: int, *, allow_clipping: bool = False) -> tuple[np.ndarray, int]:
    """Return ``(frame as uint8, number of clipped pixels)``; raise :class:`DecimationError` if lossy.

    ``index`` is the frame number, for the message.
    """
    if frame.dtype == np.uint8:
        return frame, 0
    where = f"frame {index}"
    if frame.dtype.kind == "f":
        nan = np.isnan(frame)
        if nan.any():
            raise DecimationError(f"{where}: {int(nan.sum())} pixels are NaN ({_first(nan)})")
        fraction = frame != np.round(frame)
        if fraction.any():
            y, x = np.argwhere(fraction)[0]
            raise DecimationError(
                f"{where}: {int(fraction.sum())} pixels are not integer counts ({_first(fraction)}: {frame[y, x]})"
            )
    elif frame.dtype.kind not in "iu":
        raise DecimationError(f"{where}: data type {frame.dtype} is not counts")
    low, high = frame < 0, frame > 255
    clipped = int(low.sum() + high.sum())
    if clipped and not allow_clipping:
        parts = []
        if low.any():
            parts.append(f"{int(low.sum())} below 0 ({_first(low)}: {frame[tuple(np.argwhere(low)[0])]})")
        if high.any():
            parts.append(
                f"{int(high.sum())} above 255 ({_first(high)}: {frame[tuple(np.argwhere(high)[0])]})"
            )
        raise DecimationError(
            f"{where}: {' and '.join(parts)}; these counts do not fit uint8. Set compress.allow_clipping "
            "to clip them (the number clipped is recorded in the output's metadata)"
        )
    if clipped:
        frame = np.clip(frame, 0, 255)
    return frame.astype(np.uint8), clipped
