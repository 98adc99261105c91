"""A stack's sum: the counts of all its frames added, written by ``ingest`` in its one pass.

The outlier filter (paper section 4) and KOMA (section 5.2) need a stack only
through its sum (KOMA's fill of outliers is linear in the counts, so filling
the sum equals summing the filled frames), so no step after ``ingest`` reads
the frames again. Stored as int32 MRCZ with a small record (stack, frames).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..mrcz import MrczReader
from ..mrcz import write as write_mrcz

SUM_KEY = "stack_sum"  # the record inside a sum file


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
