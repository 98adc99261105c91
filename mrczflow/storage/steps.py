"""The step of rule ``ingest``: one pass over a movie makes everything the session keeps of it.

Each frame is decoded once (any format; counts recovered from vendor
gain-normalised floats), checked against the stack's archive from an earlier
run if there is one (never replaced by less), decimated to uint8 (lossless,
or a loud failure; see :mod:`.decimate`) and written to the archive MRCZ with
its checksum (each compressed frame decoded back and checked against it: no
later step reads the archive to prove it), and added to the stack's sum. Out of the pass come:

- the archive (uint8 MRCZ; the movie's record and its checksums inside);
- the record (JSON: source, shape, dose rate, frame time, time stamp, how
  counts were recovered);
- the storage summary (JSON: sizes, ratio, entropy bound);
- the stack's sum (int32 MRCZ) and its half sum (the even frames' sum on
  the scored rows, :mod:`.sums`): all the outlier filter and KOMA need, so
  no later step reads the frames again.

The pass itself is :func:`archive_movie`, which ``mrczflow compress`` also
calls for TIFF and EER movies, so both write the same archive.

Memory: one frame (and its decoded copy), the frame-sized sum and its uint16
partial, and the half sum (a third of a frame at K2 size; and the gain
reference when recovering counts from vendor-normalised floats).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ..gain.reference import load_gain
from ..gain.settings import GainSettings
from ..jobs import progress, write_json
from ..mrcz import MrczReader, MrczWriter
from .decimate import to_uint8
from .entropy import entropy_bound
from .exposure import SIDECAR_SOURCES, Exposure, exposure_from_sidecar, measured_dose_rate, sidecar
from .movies import IngestError, ReadAhead, open_movie, recover_counts
from .settings import CompressSettings, IngestSettings
from .sums import half_sum_shape, score_rows, write_half_sum, write_stack_sum

#: How many uint8 frames a uint16 sum holds (257 x 255 = 65535).
FRAMES_IN_UINT16 = 257


def ingest(
    movie: str | os.PathLike,
    archive_out: str | os.PathLike,
    record_out: str | os.PathLike,
    *,
    stack: str,
    settings: IngestSettings | None = None,
    compress: CompressSettings | None = None,
    threads: int | None = None,
    summary_out: str | os.PathLike | None = None,
    sum_out: str | os.PathLike | None = None,
    half_out: str | os.PathLike | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
) -> dict[str, Any]:
    """Archive ``movie`` in one pass; write its record, storage summary, sum and half sum (see module doc).

    ``gain_path`` is the vendor gain reference (needed for float movies) and
    ``gain`` its orientation. If ``archive_out`` exists (an earlier run's
    archive) it is never replaced by less: a changed source (an interrupted
    re-transfer, a different file under the same name) whose frames are fewer
    or differ is refused, naming both files, and the archive stays as it is
    (to archive the changed movie instead, move the archive away: a
    deliberate act, not a setting that could rerun a session). Returns the
    record.
    """
    started = time.perf_counter()
    archived = archive_movie(
        movie,
        archive_out,
        stack=stack,
        settings=settings,
        compress=compress,
        threads=threads,
        gain_path=gain_path,
        gain=gain,
    )
    record = archived.record
    n_frames, ny, nx = record["shape"]
    if sum_out:
        write_stack_sum(sum_out, archived.total, stack=stack, frames=n_frames)
    if half_out:
        write_half_sum(half_out, archived.even, stack=stack, frames=n_frames, rows=score_rows(ny))
    size = Path(archive_out).stat().st_size
    decoded = n_frames * ny * nx
    bound = entropy_bound(archived.histogram)
    seconds = time.perf_counter() - started
    if summary_out:
        write_json(
            summary_out,
            {
                "stack": stack,
                "source_bytes": record["source_bytes"],
                "uint8_bytes": decoded,
                "mrcz_bytes": size,
                "ratio_vs_source": record["source_bytes"] / size,
                "ratio_vs_uint8": decoded / size,
                "clipped_pixels": archived.clipped,
                "entropy_bits_per_pixel": bound.bits_per_pixel,
                "entropy_bound_ratio": bound.best_ratio,
                "percent_of_entropy_bound": 100 * (decoded / size) / bound.best_ratio,
                "seconds": seconds,
            },
        )
    record["seconds"] = seconds
    write_json(record_out, record)
    return record


@dataclasses.dataclass
class Archived:
    """What :func:`archive_movie` learnt in its pass besides the archive it wrote.

    Attributes
    ----------
    record
        The movie's record (also in the archive's metadata under ``movie``).
    total
        Sum of the archived uint8 frames (int32, frame-sized): the stack's sum.
    even
        Sum of the even frames (0, 2, ...) on the scored rows (:func:`.sums.score_rows`): the half sum.
    histogram
        Counts of each uint8 value over about 64 rows of every frame (all rows of a small frame).
    clipped
        Pixels clipped to 0-255 (only with ``compress.allow_clipping``).
    """

    record: dict[str, Any]
    total: np.ndarray
    even: np.ndarray
    histogram: np.ndarray
    clipped: int


def archive_movie(
    movie: str | os.PathLike,
    archive_out: str | os.PathLike,
    *,
    stack: str,
    settings: IngestSettings | None = None,
    compress: CompressSettings | None = None,
    threads: int | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    replace: bool = False,
    sidecar_required: bool = True,
    metadata_format: str = "msgpack",
    bar: tqdm | None = None,
) -> Archived:
    """Write ``movie``'s lossless uint8 MRCZ archive in one pass: the archive of rule ``ingest``.

    Both the ingest step and ``mrczflow compress`` (for TIFF/EER movies)
    call this, so the two write the same file for the same movie.

    Parameters
    ----------
    movie
        Any movie :func:`.movies.open_movie` reads (MRC/MRCZ, TIFF, EER).
    archive_out
        The archive; written under a temporary name and renamed when whole,
        so a movie that fails (counts that do not fit uint8, a truncated
        file, a frame count its metadata disagrees with) leaves no file.
    stack
        The stack's name, recorded in the archive.
    settings, compress, threads
        Config sections ``ingest`` and ``compress``; compression threads.
    gain_path, gain
        Vendor gain reference (needed for float movies) and its orientation.
    replace
        False (the ingest step): an existing ``archive_out`` is compared frame
        by frame with the movie and never replaced by less (see
        :func:`ingest`). True: it is overwritten (``mrczflow compress --force``).
    sidecar_required
        False: a movie without the .mdoc/EPU .xml that ``ingest.dose.source``
        asks for is archived with no dose metadata instead of refused.
    metadata_format
        Footer format, ``msgpack`` (the ingest step's) or ``json``.
    bar
        Progress bar to advance a frame at a time (default: a log-style bar of its own).

    Returns
    -------
    Archived
        The record, the stack's sum and half sum, the value histogram and the clipped pixel count.
    """
    settings = settings or IngestSettings()
    compress = compress or CompressSettings()
    gain = gain or GainSettings()
    with open_movie(movie, settings.format, settings.eer_group) as source:
        exposure = _exposure(movie, settings, source.shape[0], sidecar_required)
        pixel_size = settings.pixel_size or exposure.pixel_size or 0.0
        if (
            settings.pixel_size
            and exposure.pixel_size
            and abs(exposure.pixel_size / settings.pixel_size - 1) > 0.01
        ):
            print(
                f"warning: {stack}: ingest.pixel_size is {settings.pixel_size:g} A but {exposure.source} says "
                f"{exposure.pixel_size:.4g} A; the config's is recorded (set it to null to take the file's)",
                file=sys.stderr,
                flush=True,
            )
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
        elif source.dtype.kind not in "iu":
            raise ValueError(f"{movie}: data type {source.dtype} is not counts")
        n_frames, ny, nx = source.shape
        worst_residual = 0.0
        clipped = 0
        total = np.zeros((ny, nx), np.int32)  # uint8 frames: int32 overflows only past 8 million frames
        # Frames are added in uint16 (half the memory traffic of int32: 0.17 s less a K2 movie), which
        # holds FRAMES_IN_UINT16 of them, then into the total.
        partial = np.zeros((ny, nx), np.uint16)
        scored = score_rows(ny)
        even = np.zeros(half_sum_shape((ny, nx)), np.int32)
        # About 64 rows of every frame (every 59th of a K2 frame; 240,000 values a frame): an unbiased
        # histogram for the entropy bound, far more values than its few occupied bins need. Every 8th row
        # took 0.27 s of a K2 movie's ingest.
        histogram_rows = slice(None, None, max(1, ny // 64))
        histogram = np.zeros(256, np.int64)
        earlier = None if replace else _earlier_archive(archive_out, movie, source.shape)
        with (
            earlier or contextlib.nullcontext(),
            MrczWriter(
                archive_out,
                (ny, nx),
                np.uint8,
                compression=compress.compression(threads),
                voxel_size=pixel_size,
                metadata_format=metadata_format,
                round_trip=True,  # no later step reads the archive: each chunk is proven as it is made
            ) as writer,
            contextlib.nullcontext(bar)
            if bar is not None
            else progress(n_frames, f"ingest {stack}") as ticker,
            # With a second core the next frames are decoded while this one is checked and compressed.
            ReadAhead(source.frames())
            if (threads or 1) > 1
            else contextlib.nullcontext(source.frames()) as frames,
        ):
            for index, frame in enumerate(frames):
                if gain_image is not None:
                    frame, residual = recover_counts(frame, gain_image, index)
                    worst_residual = max(worst_residual, residual)
                if earlier is not None and not _same_frame(earlier, index, frame):
                    raise IngestError(
                        f"{movie}: frame {index} differs from its archive {earlier.path}: not re-archived "
                        "(the archive is kept; move it away to archive this movie instead)"
                    )
                small, lost = to_uint8(frame, index, allow_clipping=compress.allow_clipping)
                clipped += lost
                histogram += np.bincount(small[histogram_rows].ravel(), minlength=256)
                partial += small
                if (index + 1) % FRAMES_IN_UINT16 == 0:
                    total += partial
                    partial[...] = 0
                if index % 2 == 0:
                    even += small[scored]
                writer.write_frame(small)
                ticker.update()
            total += partial
            del partial
            mean = float(total.sum()) / (n_frames * ny * nx)
            if settings.dose.source == "measured":
                exposure.dose_rate = measured_dose_rate(mean, exposure.frame_time)
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
                "mean_counts_per_frame": mean,
                "timestamp": exposure.timestamp,
                "dose_source": exposure.source,
                "recovered_from_float": is_float,
                "recovery_max_residual": worst_residual if is_float else None,
                "pixel_size": pixel_size,
                "pixel_size_from": "config"
                if settings.pixel_size
                else (exposure.source if pixel_size else None),
                "voltage": exposure.voltage,
                "source_integrity": source.integrity,
            }
            # Header values known only now (a measured dose); no wall times inside the archive:
            # the same input gives the same bytes (sha256sum-able copies).
            writer.dose_per_frame = record["dose_per_frame"]
            writer.exposure_time = exposure.frame_time * n_frames if exposure.frame_time else None
            writer.metadata.update({"movie": record, "clipped_pixels": clipped})
    return Archived(record, total, even, histogram, clipped)


def _exposure(
    movie: str | os.PathLike, settings: IngestSettings, frames: int, sidecar_required: bool = True
) -> Exposure:
    """Dose rate, frame time, time stamp (and pixel size, voltage) of ``movie`` from where ``settings.dose`` says.

    ``frames`` is the movie's frame count (after EER grouping): EPU gives the
    exposure time of the whole movie, so its frame time is that over them.
    Without ``sidecar_required`` a missing sidecar gives an exposure with
    nothing known (source ``none``) instead of an error.
    """
    dose = settings.dose
    if dose.source in SIDECAR_SOURCES:
        path = sidecar(movie, dose.source)
        if path is None and not sidecar_required:
            return Exposure(None, dose.frame_time, None, "none")
        if path is None:
            wanted = {"mdoc": "SerialEM .mdoc", "epu": "EPU .xml", "auto": "SerialEM .mdoc or EPU .xml"}
            raise IngestError(
                f"{movie}: no {wanted[dose.source]} beside it; set ingest.dose.source to config "
                "(with dose_rate and frame_time) or measured (with frame_time)"
            )
        exposure = exposure_from_sidecar(path)  # one without a dose rate still archives the movie
    else:
        exposure = Exposure(dose.dose_rate, dose.frame_time, None, "config")
    if dose.source == "config" and exposure.dose_rate is None:
        raise ValueError("ingest.dose.source is config but ingest.dose.dose_rate is not set")
    if exposure.frame_time is None and exposure.exposure_time and frames:
        exposure.frame_time = exposure.exposure_time / frames
    if exposure.frame_time is None:
        exposure.frame_time = dose.frame_time
    if dose.source == "measured" and not exposure.frame_time:
        raise ValueError(
            "ingest.dose.source is measured but no frame time is known (mdoc or ingest.dose.frame_time)"
        )
    return exposure


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
