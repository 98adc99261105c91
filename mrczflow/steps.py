"""The workflow's per-stack steps, as library calls (the scripts only parse options).

``ingest_movie``: any movie format -> verified integer counts (an intermediate
MRCZ in the counts' own integer type, lz4 for speed) plus a JSON record of the
movie (source, shape, dose rate, frame time, time stamp, how counts were
recovered).

``compress_stack``: those counts -> uint8 MRCZ (lossless, or a loud failure;
see :mod:`mrczflow.decimate`), carrying the JSON record and the checksum of
its decoded data in its metadata.

Memory of each: one frame at a time (and the gain reference when recovering
counts from vendor-normalised floats).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from . import mrcz
from .decimate import to_uint8
from .fileio import atomic_path
from .gainref import load_gain
from .ingest import Exposure, exposure_from_mdoc, mdoc_path, measured_dose_rate, open_movie, recover_counts
from .metrics import entropy_bound
from .mrcz import Compression, MrczReader, MrczWriter

INTERMEDIATE = Compression(codec="lz4", level=1)


def job_banner(step: str, target: str) -> str:
    """First log line of a job: what, where, and the SLURM job id when there is one."""
    slurm = os.environ.get("SLURM_JOB_ID")
    where = f"SLURM job {slurm}" if slurm else "no SLURM job"
    return f"mrczflow {step}: {target} on {socket.gethostname()} ({where}, pid {os.getpid()})"


def progress(total: int, what: str) -> tqdm:
    """A progress bar for logs: plain ASCII, at most one update a second."""
    return tqdm(
        total=total, desc=what, unit="frame", ascii=True, mininterval=1.0, file=sys.stderr, disable=False
    )


def write_json(path: str | os.PathLike, record: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n")


def ingest_movie(
    movie: str | os.PathLike,
    counts_out: str | os.PathLike,
    record_out: str | os.PathLike,
    *,
    stack: str,
    fmt: str = "auto",
    eer_group: int = 1,
    gain: str | None = None,
    gain_rotate: int = 0,
    gain_flip: str = "none",
    dose_source: str = "mdoc",
    dose_rate: float | None = None,
    frame_time: float | None = None,
    pixel_size: float = 0.0,
) -> dict[str, Any]:
    """Read ``movie``, check it holds counts, write them and a record of the movie (see module doc)."""
    started = time.perf_counter()
    with open_movie(movie, fmt, eer_group) as source:
        if dose_source == "mdoc":
            exposure = exposure_from_mdoc(mdoc_path(movie))
        else:
            exposure = Exposure(dose_rate, frame_time, None, "config")
        if dose_source == "config" and exposure.dose_rate is None:
            raise ValueError("dose.source is config but dose.dose_rate is not set")
        if exposure.frame_time is None:
            exposure.frame_time = frame_time
        is_float = source.dtype.kind == "f"
        gain_image = None
        if is_float:
            if not gain:
                raise ValueError(
                    f"{movie}: float movie ({source.dtype}) needs gain.reference to recover counts"
                )
            gain_image = load_gain(gain, source.shape[1:], gain_rotate, gain_flip)
        out_dtype = np.dtype(np.uint16) if is_float else source.dtype
        if out_dtype.kind not in "iu":
            raise ValueError(f"{movie}: data type {source.dtype} is not counts")
        worst_residual = 0.0
        total = 0.0
        with (
            MrczWriter(
                counts_out, source.shape[1:], out_dtype, compression=INTERMEDIATE, voxel_size=pixel_size
            ) as writer,
            progress(source.shape[0], f"ingest {stack}") as bar,
        ):
            for index, frame in enumerate(source.frames()):
                if gain_image is not None:
                    frame, residual = recover_counts(frame, gain_image, index)
                    worst_residual = max(worst_residual, residual)
                total += float(frame.sum(dtype=np.float64))
                writer.write_frame(frame)
                bar.update()
        n_frames, ny, nx = source.shape
        if dose_source == "measured":
            if not exposure.frame_time:
                raise ValueError(
                    "dose.source is measured but no frame time is known (mdoc or dose.frame_time)"
                )
            exposure.dose_rate = measured_dose_rate(total / (n_frames * ny * nx), exposure.frame_time)
            exposure.source = "measured from mean counts"
        record = {
            "stack": stack,
            "source": os.fspath(movie),
            "format": source.fmt,
            "source_dtype": str(source.dtype),
            "source_bytes": Path(movie).stat().st_size,
            "shape": [n_frames, ny, nx],
            "dose_rate": exposure.dose_rate,
            "frame_time": exposure.frame_time,
            "dose_per_frame": exposure.dose_rate * exposure.frame_time
            if exposure.dose_rate and exposure.frame_time
            else None,
            "mean_counts_per_frame": total / (n_frames * ny * nx),
            "timestamp": exposure.timestamp,
            "dose_source": exposure.source,
            "recovered_from_float": is_float,
            "recovery_max_residual": worst_residual if is_float else None,
            "pixel_size": pixel_size,
            "seconds": time.perf_counter() - started,
        }
    write_json(record_out, record)
    return record


def compress_stack(
    counts: str | os.PathLike,
    record_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    compression: Compression,
    allow_clipping: bool = False,
    summary_out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Decimate ingested counts to uint8 and write the archive MRCZ (see module doc)."""
    started = time.perf_counter()
    record = json.loads(Path(record_path).read_text())
    clipped = 0
    # Every 8th row of every frame: an unbiased histogram for the entropy bound at ~3% of the time.
    histogram = np.zeros(256, np.int64)
    with MrczReader(counts) as reader:
        n_frames = reader.n_frames
        writer = MrczWriter(
            out,
            reader.header.shape[1:],
            np.uint8,
            compression=compression,
            voxel_size=reader.header.voxel_size,
            dose_per_frame=record.get("dose_per_frame"),
            exposure_time=(record["frame_time"] * n_frames) if record.get("frame_time") else None,
            metadata={"movie": record},
        )
        with writer, progress(n_frames, f"compress {record['stack']}") as bar:
            for index, frame in enumerate(reader):
                small, lost = to_uint8(frame, index, allow_clipping=allow_clipping)
                clipped += lost
                histogram += np.bincount(small[::8].ravel(), minlength=256)
                writer.write_frame(small)
                bar.update()
            writer.metadata["clipped_pixels"] = clipped
    elapsed = time.perf_counter() - started
    size = Path(out).stat().st_size
    decoded = n_frames * reader.header.shape[1] * reader.header.shape[2]
    bound = entropy_bound(histogram)
    summary = {
        "stack": record["stack"],
        "source_bytes": record["source_bytes"],
        "uint8_bytes": decoded,
        "mrcz_bytes": size,
        "ratio_vs_source": record["source_bytes"] / size,
        "ratio_vs_uint8": decoded / size,
        "clipped_pixels": clipped,
        "entropy_bits_per_pixel": bound.bits_per_pixel,
        "entropy_bound_ratio": bound.best_ratio,
        "percent_of_entropy_bound": 100 * (decoded / size) / bound.best_ratio,
        "seconds": elapsed,
        "ingest_seconds": record.get("seconds"),
    }
    if summary_out:
        write_json(summary_out, summary)
    return summary


def run_guarded(stack: str, step: str, action) -> None:
    """Run ``action()``; a known failure becomes one line ``error: <stack>: ...`` on stderr and exit 1.

    Outputs are written atomically, so a failed step leaves no partial file.
    """
    from .decimate import DecimationError
    from .gainref import GainError
    from .ingest import IngestError
    from .mrcz import MrczError

    print(job_banner(step, stack), file=sys.stderr, flush=True)
    try:
        action()
    except (MrczError, IngestError, GainError, DecimationError, ValueError, OSError) as exc:
        print(f"error: {stack}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    print(f"mrczflow {step}: {stack} done", file=sys.stderr, flush=True)


def outlier_step(
    counts_path: str | os.PathLike,
    mask_out: str | os.PathLike,
    defects_out: str | os.PathLike,
    stats_out: str | os.PathLike,
    record_path: str | os.PathLike | None = None,
    params=None,
) -> dict[str, Any]:
    """Per-stack outlier detection (:mod:`mrczflow.outliers`): flag image, defect list and statistics.

    Holds the stack sum and a few frame-sized arrays; the frames are streamed.
    """
    from .outliers import HOT, OutlierParams, defect_list, detect, stack_sum

    started = time.perf_counter()
    params = params or OutlierParams()
    with MrczReader(counts_path) as reader:
        total = stack_sum(iter(reader))
        voxel = reader.header.voxel_size
    detection = detect(total, params)
    mrcz.write(
        mask_out,
        detection.flags,
        voxel_size=voxel,
        metadata={"flags": {"hot": HOT, "dead": 2, "clustered": 4}, "params": dataclasses.asdict(params)},
    )
    with atomic_path(defects_out) as tmp:
        tmp.write_text(defect_list(detection))
    stats = {
        "stack": Path(counts_path).name.removesuffix(".mrcz"),
        **detection.summary(),
        "pixels": int(total.size),
        "seconds": time.perf_counter() - started,
    }
    if record_path:
        record = json.loads(Path(record_path).read_text())
        stats.update({k: record.get(k) for k in ("timestamp", "dose_rate", "dose_per_frame")})
        stats["frames"] = record["shape"][0]
    write_json(stats_out, stats)
    return stats
