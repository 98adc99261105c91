"""The step of rule ``outliers``: one stack's flag image, defect list and statistics (and its KOMA sum)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import mrcz
from ..fileio import atomic_path
from ..gain.reference import load_gain, load_readout, read_gain
from ..gain.session_check import GainOrientationError, check_on_sum
from ..gain.settings import GainSettings
from ..jobs import read_json, write_json
from ..storage.sums import read_stack_sum
from .defects import defect_list
from .detect import CLUSTERED, DEAD, HOT, LINE, detect
from .settings import OutlierSettings

if TYPE_CHECKING:
    from ..koma.settings import KomaSettings


def outliers(
    sum_path: str | os.PathLike,
    mask_out: str | os.PathLike,
    defects_out: str | os.PathLike,
    stats_out: str | os.PathLike,
    *,
    stack: str,
    record_path: str | os.PathLike | None = None,
    settings: OutlierSettings | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    koma_sum_out: str | os.PathLike | None = None,
    koma: KomaSettings | None = None,
    readout_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Per-stack outlier detection (:mod:`.detect`): flag image (MRCZ), defect list and statistics (JSON).

    Reads the stack's sum (written by ingest: the frames are not read again);
    holds it and a few frame-sized arrays. ``gain_path`` (the vendor gain,
    oriented by ``gain``) gives each pixel its own response (:func:`.detect.detect`).

    The stack's sum also checks the gain's orientation
    (:func:`mrczflow.gain.session_check.check_on_sum`): a configured
    orientation that makes the sum less flat than another, or than no gain,
    raises :class:`~mrczflow.gain.session_check.GainOrientationError` naming
    the right one, before anything is written, unless
    ``gain.orientation_check`` is ``warn``. The check goes into the statistics.

    ``readout_path``: a CMOS read-out reference (counts per frame, the
    movies' orientation; config ``gamma.cmos_reference``, as Eq. 9 takes it):
    its half lines, times the stack's frames, go into every pixel's expected
    sum, so line defects on read-out rows are told from the rows' offsets at
    low dose (:func:`.detect.detect`).

    ``koma_sum_out``: also the stack's KOMA sum record, the sum with these
    outliers filled and its contrast (:func:`mrczflow.koma.steps.write_koma_sum`,
    ``koma`` its settings), from the sum, flags and gain in hand: KOMA needs no
    job of its own per stack before its windows.
    """
    started = time.perf_counter()
    settings = settings or OutlierSettings()
    total, sum_info = read_stack_sum(sum_path)
    reference = None
    gain_check = None
    if gain_path is not None:
        orientation = gain or GainSettings()
        raw = read_gain(gain_path)
        reference = load_gain(gain_path, total.shape, orientation.rotate, orientation.flip, raw=raw)
        gain_check = check_on_sum(total, raw, orientation.rotate, orientation.flip)
        print(gain_check.message(), flush=True)
        if gain_check.problem and orientation.orientation_check == "stop":
            raise GainOrientationError(f"{os.fspath(gain_path)}: {gain_check.message()}")
    readout = None
    if readout_path is not None:
        readout = load_readout(readout_path, total.shape)
        readout *= np.float32(sum_info["frames"])  # counts per frame -> counts in the sum
    detection = detect(total, settings, reference, readout)
    del readout
    mrcz.write(
        mask_out,
        detection.flags,
        metadata={
            "flags": {"hot": HOT, "dead": DEAD, "clustered": CLUSTERED, "line": LINE},
            "params": settings.as_dict(),
        },
    )
    with atomic_path(defects_out) as tmp:
        tmp.write_text(defect_list(detection))
    stats = {
        "stack": stack,
        **detection.summary(),
        "pixels": int(total.size),
    }
    if gain_check is not None:
        stats["gain_check"] = gain_check.as_dict()
    stats["readout_reference"] = None if readout_path is None else os.fspath(readout_path)
    record = read_json(record_path) if record_path else None
    if record:
        stats.update({k: record.get(k) for k in ("timestamp", "dose_rate", "dose_per_frame")})
        stats["frames"] = record["shape"][0]
    if koma_sum_out is not None:
        from ..koma.steps import write_koma_sum  # KOMA's code loads only when KOMA is on

        write_koma_sum(
            koma_sum_out,
            total,
            int(sum_info["frames"]),
            stack=stack,
            stack_sum_path=sum_path,
            flags=detection.flags,
            gain=reference,
            settings=koma,
            record=record,
        )
    stats["seconds"] = time.perf_counter() - started
    write_json(stats_out, stats)
    return stats
