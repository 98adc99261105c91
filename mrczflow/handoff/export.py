"""The way back out of the archive: movies as TIFF or MRC files that RELION, MotionCor and cryoSPARC read.

Every frame is checked twice: the archive's reader checks each decoded frame
against its stored checksum, and after the file is written and closed each
frame is read back from it (with ``tifffile`` or ``mrcfile``, the readers the
tests use too) and its checksum compared with the archive's. Only then is the
file renamed into place, so a failed or interrupted export leaves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import mrcfile
import numpy as np
import tifffile

from .. import mrcz
from ..fileio import atomic_path
from ..mrcz.footer import checksum
from .conventions import MOVIE_FORMATS

# Above this many bytes of frames a classic TIFF's 32-bit offsets may not reach the end.
BIGTIFF_FROM = 2**32 - 2**25


class ExportError(ValueError):
    """An exported frame does not read back as the archive's frame."""


def movie_suffix(fmt: str) -> str:
    """The file extension of an exported movie."""
    if fmt not in MOVIE_FORMATS:
        raise ValueError(f"export format must be one of {MOVIE_FORMATS}, got {fmt!r}")
    return ".tif" if fmt == "tiff" else ".mrc"


def _read_back(path: Path, fmt: str):
    """Yield the frames of an exported file as a reader other than ours sees them."""
    if fmt == "tiff":
        with tifffile.TiffFile(path) as tif:
            for page in tif.pages:
                yield page.asarray()
    else:
        with mrcfile.mmap(path, permissive=False) as mrc:
            data = mrc.data if mrc.data.ndim == 3 else mrc.data[np.newaxis]
            for frame in data:
                # uint8 is stored as IMOD's unsigned-byte mode 0; mrcfile reads int8 bytes.
                yield frame.view(np.uint8) if frame.dtype == np.int8 else np.array(frame)


def export_movie(
    archive: str | os.PathLike,
    out: str | os.PathLike,
    fmt: str = "tiff",
    *,
    on_frame: Callable[[], None] | None = None,
) -> dict:
    """Write the archive's counts to ``out`` (``fmt`` ``"tiff"``: LZW, one page a frame; ``"mrc"``: plain).

    Returns ``{"frames", "shape", "dtype", "format", "bytes"}``. Raises
    :class:`ExportError` if a frame does not read back bit-exact (checksum of
    the archive's frame), and then writes nothing. Memory: one frame.
    """
    movie_suffix(fmt)
    out = Path(out)
    with mrcz.MrczReader(archive) as reader:
        expected = reader.frame_checksums
        shape = (reader.n_frames, *reader.header.shape[1:])
        dtype = np.dtype(reader.dtype)
        written: list[str] = []
        top = 0
        with atomic_path(out) as tmp:
            if fmt == "tiff":
                big = shape[0] * shape[1] * shape[2] * dtype.itemsize >= BIGTIFF_FROM
                with tifffile.TiffWriter(tmp, bigtiff=big) as tif:
                    for frame in reader:
                        tif.write(frame, compression="lzw", photometric="minisblack", metadata=None)
                        written.append(checksum(frame))
                        if on_frame:
                            on_frame()
            else:
                with mrcz.MrczWriter(
                    tmp, shape[1:], dtype, compression=None, voxel_size=reader.header.voxel_size
                ) as writer:
                    for frame in reader:
                        writer.write_frame(frame)
                        written.append(checksum(frame))
                        top = max(top, int(frame.max()) if frame.size else 0)
                        if on_frame:
                            on_frame()
            reference = expected if expected is not None else written
            count = 0
            for index, frame in enumerate(_read_back(tmp, fmt)):
                if index >= len(reference) or frame.shape != shape[1:] or checksum(frame) != reference[index]:
                    raise ExportError(f"{os.fspath(out)}: frame {index} does not read back as the archive's")
                count += 1
            if count != shape[0]:
                raise ExportError(f"{os.fspath(out)}: {count} frames read back, the archive has {shape[0]}")
            size = tmp.stat().st_size
    info = {"frames": shape[0], "shape": list(shape), "dtype": str(dtype), "format": fmt, "bytes": size}
    if fmt == "mrc" and dtype == np.uint8 and top > 127:
        # MRC mode 0 is signed unless a reader honours IMOD's unsigned flag (IMOD, MotionCor, RELION do).
        info["warning"] = (
            f"{os.fspath(out)}: counts up to {top} in MRC mode 0: a reader that ignores IMOD's unsigned-byte"
            " flag sees counts above 127 as negative; TIFF has no such ambiguity"
        )
    return info
