"""A stack's sum: the counts of all its frames added, written by ``ingest`` in its one pass.

The outlier filter (paper section 4) and KOMA (section 5.2) need a stack only
through its sum (KOMA's fill of outliers is linear in the counts, so filling
the sum equals summing the filled frames), so no step after ``ingest`` reads
the frames again. Stored as int32 MRCZ with a small record (stack, frames).

Beside it, the *half sum*: the sum of the even frames (0, 2, 4, ...) on the
rows the per-stack metrics are scored on (:func:`score_rows`). With the stack
sum it gives both halves of the stack, all that KOMA's two metrics need
(correlated noise, paper Eq. 7, and the fixed-pattern DQE loss, each from
the even and the odd frames' sums: :mod:`mrczflow.koma.noise`), at a third
of a sum's size.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..mrcz import MrczReader
from ..mrcz import write as write_mrcz

SUM_KEY = "stack_sum"  # the record inside a sum file
HALF_KEY = "half_sum"  # the record inside a half sum file


def score_rows(n_rows: int) -> slice:
    """Rows on which a stack's metrics are scored: every ``n_rows // 1024``-th (all of a small frame).

    Still millions of pixels on a K2 frame (the correlated noise's spread is
    ~2e-5), at a third of the cost and of the half sum's size.
    """
    return slice(None, None, max(1, n_rows // 1024))


def half_sum_shape(frame_shape: tuple[int, int]) -> tuple[int, int]:
    """The shape of the half sum of frames of ``frame_shape``: its scored rows (:func:`score_rows`), whole."""
    return len(range(*score_rows(frame_shape[0]).indices(frame_shape[0]))), frame_shape[1]


def write_stack_sum(path: str | os.PathLike, total: np.ndarray, *, stack: str, frames: int) -> None:
    """Write ``total`` (counts summed over ``frames`` frames) as the sum of ``stack``."""
    if total.max(initial=0) > np.iinfo(np.int32).max:
        raise ValueError(f"{stack}: the stack sum exceeds int32 ({total.max()} counts in one pixel)")
    write_mrcz(path, total.astype(np.int32), metadata={SUM_KEY: {"stack": stack, "frames": int(frames)}})


def read_stack_sum(path: str | os.PathLike) -> tuple[np.ndarray, dict[str, Any]]:
    """A stack's sum (int32 counts) and its record (stack, frames).

    Raises ValueError for a file that is not a stack sum (rerun ``ingest``).
    """
    with MrczReader(path) as reader:
        info = reader.metadata.get(SUM_KEY)
        image = reader.read()
    if not isinstance(info, dict) or not {"stack", "frames"} <= info.keys():
        raise ValueError(f"{os.fspath(path)}: not a stack sum (no {SUM_KEY} record); rerun ingest")
    return image, info


def write_half_sum(
    path: str | os.PathLike, even: np.ndarray, *, stack: str, frames: int, rows: slice
) -> None:
    """Write ``even``, the sum of the even frames of ``stack`` (``frames`` in all) on ``rows`` of each frame."""
    if even.max(initial=0) > np.iinfo(np.int32).max:
        raise ValueError(f"{stack}: the half sum exceeds int32 ({even.max()} counts in one pixel)")
    record = {
        "stack": stack,
        "frames": int(frames),
        "even_frames": (int(frames) + 1) // 2,
        "row_step": rows.step,
    }
    write_mrcz(path, even.astype(np.int32), metadata={HALF_KEY: record})


def read_half_sum(path: str | os.PathLike, shape: tuple[int, int], frames: int) -> np.ndarray:
    """The even frames' sum (int32) on the scored rows of a stack of ``frames`` frames of ``shape``.

    Raises ValueError, naming the file and saying to rerun ingest, for a file
    that is not a half sum or not one of such a stack.
    """
    with MrczReader(path) as reader:
        info = reader.metadata.get(HALF_KEY)
        image = reader.read()
    rows = score_rows(shape[0])
    expected = half_sum_shape(shape)
    if not isinstance(info, dict) or info.get("frames") != frames or info.get("row_step") != rows.step:
        raise ValueError(
            f"{os.fspath(path)}: not the half sum of a stack of {frames} frames scored on every"
            f" {rows.step} rows ({HALF_KEY} record: {info!r}); rerun ingest"
        )
    if image.shape != expected:
        raise ValueError(f"{os.fspath(path)}: a half sum of {image.shape}, not {expected}; rerun ingest")
    return image
