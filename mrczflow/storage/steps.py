"""The steps of rules ``ingest`` and ``compress``.

``ingest``: any movie format -> verified integer counts (an intermediate
MRCZ in the counts' own integer type, lz4 for speed) plus a JSON record of the
movie (source, shape, dose rate, frame time, time stamp, how counts were
recovered).

``compress``: those counts -> uint8 MRCZ (lossless, or a loud failure;
see :mod:`.decimate`), carrying the JSON record and the checksum of
its decoded data in its metadata.

Memory of each: one frame at a time (and the gain reference when recovering
counts from vendor-normalised floats).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..gain.reference import load_gain
from ..gain.settings import GainSettings
from ..jobs import progress, read_json, write_json
from ..mrcz import Compression, MrczReader, MrczWriter
from .decimate import to_uint8
from .entropy import entropy_bound
from .exposure import Exposure, exposure_from_mdoc, mdoc_path, measured_dose_rate
from .movies import IngestError, open_movie, recover_counts
from .settings import CompressSettings, IngestSettings

INTERMEDIATE = Compression(codec="lz4", level=1)


def ingest(
    movie: str | os.PathLike,
    counts_out: str | os.PathLike,
    record_out: str | os.PathLike,
    *,
    stack: str,
    settings: IngestSettings | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    archive: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Read ``movie``, check it holds counts, write them and a record of the movie (see module doc).

    ``gain_path`` is the vendor gain reference (needed for float movies) and
    ``gain`` its orientation. ``archive`` is the stack's archive from an
    earlier run, if there is one: an archive is never replaced by less, so a
    changed source (an interrupted re-transfer, a different file under the
    same name) whose frames are fewer or differ is refused, naming both files;
    the archive stays as it is (to archive the changed movie instead, move the
    archive away: a deliberate act, not a setting that could rerun a session).
    """
    started = time.perf_counter()
    settings = settings or IngestSettings()
    gain = gain or GainSettings()
    dose_source, dose_rate, frame_time = (
        settings.dose.source,
        settings.dose.dose_rate,
        settings.dose.frame_time,
    )
    pixel_size = settings.pixel_size or 0.0
    with open_movie(movie, settings.format, settings.eer_group) as source:
        if dose_source == "mdoc":
            exposure = exposure_from_mdoc(mdoc_path(movie))
        else:
            exposure = Exposure(dose_rate, frame_time, None, "config")
        if dose_source == "config" and exposure.dose_rate is None:
            raise ValueError("ingest.dose.source is config but ingest.dose.dose_rate is not set")
        if exposure.frame_time is None:
            exposure.frame_time = frame_time
        expected = settings.expected_frames or exposure.frames
        if expected is not None and source.raw_frames != expected:
            said_by = "ingest.expected_frames" if settings.expected_frames else exposure.source
            raise IngestError(
                f"{movie}: has {source.raw_frames} frames but {said_by} says {expected}: incomplete "
                "(still being written or copied?) or not this movie's metadata; not archived"
            )
        is_float = source.dtype.kind == "f"
        gain_image = None
        if is_float:
            if not gain_path:
                raise ValueError(
                    f"{movie}: float movie ({source.dtype}) needs gain.reference to recover counts"
                )
            gain_image = load_gain(gain_path, source.shape[1:], gain.rotate, gain.flip)
        out_dtype = np.dtype(np.uint16) if is_float else source.dtype
        if out_dtype.kind not in "iu":
            raise ValueError(f"{movie}: data type {source.dtype} is not counts")
        worst_residual = 0.0
        total = 0.0
        earlier = _earlier_archive(archive, movie, source.shape)
        with (
            earlier or contextlib.nullcontext(),
            MrczWriter(
                counts_out, source.shape[1:], out_dtype, compression=INTERMEDIATE, voxel_size=pixel_size
            ) as writer,
            progress(source.shape[0], f"ingest {stack}") as bar,
        ):
            for index, frame in enumerate(source.frames()):
                if gain_image is not None:
                    frame, residual = recover_counts(frame, gain_image, index)
                    worst_residual = max(worst_residual, residual)
                if earlier is not None and not _same_frame(earlier, index, frame):
                    raise IngestError(
                        f"{movie}: frame {index} differs from its archive {earlier.path}: not re-archived "
                        "(the archive is kept; move it away to archive this movie instead)"
                    )
                total += float(frame.sum(dtype=np.float64))
                writer.write_frame(frame)
                bar.update()
        n_frames, ny, nx = source.shape
        if dose_source == "measured":
            if not exposure.frame_time:
                raise ValueError(
                    "ingest.dose.source is measured but no frame time is known (mdoc or ingest.dose.frame_time)"
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
            "source_integrity": source.integrity,
            "seconds": time.perf_counter() - started,
        }
    write_json(record_out, record)
    return record


def _same_frame(archive: MrczReader, index: int, frame: np.ndarray) -> bool:
    """Whether frame ``index`` of the archive holds ``frame``'s counts (as clipped, if it was archived so)."""
    stored = archive.read_frame(index)
    if archive.metadata.get("clipped_pixels"):
        frame = np.minimum(frame, 255)
    return bool(np.array_equal(stored, frame))


def _earlier_archive(
    archive: str | os.PathLike | None, movie: str | os.PathLike, shape: tuple[int, ...]
) -> MrczReader | None:
    """The stack's existing archive, open for comparison, after checking it has no more frames than ``movie``."""
    if archive is None or not os.path.exists(archive):
        return None
    reader = MrczReader(archive)
    if reader.header.shape != tuple(shape):
        reader.close()
        raise IngestError(
            f"{movie}: {shape[0]} frames of {shape[2]}x{shape[1]}, its archive {archive} holds "
            f"{reader.header.shape[0]} of {reader.header.shape[2]}x{reader.header.shape[1]}: not re-archived "
            "(the archive is kept; move it away to archive this movie instead)"
        )
    return reader


def compress(
    counts: str | os.PathLike,
    record_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    settings: CompressSettings | None = None,
    threads: int | None = None,
    summary_out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Decimate ingested counts to uint8 and write the archive MRCZ (see module doc)."""
    started = time.perf_counter()
    settings = settings or CompressSettings()
    compression = settings.compression(threads)
    allow_clipping = settings.allow_clipping
    record = read_json(record_path)
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
            # No wall times inside the archive: the same input gives the same bytes (sha256sum-able copies).
            metadata={"movie": {key: value for key, value in record.items() if key != "seconds"}},
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
