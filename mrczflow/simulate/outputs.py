"""Writing simulated movies the way microscopes do: count MRC, vendor float MRC, LZW TIFF, mdoc.

- ``counts``: integer-count MRC (uint16 by default, like DigitalMicrograph).
- ``vendor``: gain-normalised float32 MRC, counts times the vendor gain
  reference (what vendors ship by default; 4x larger and incompressible).
- ``tiff``: LZW-compressed multi-page TIFF of counts (SerialEM, EPU).

Each movie gets a SerialEM-style frame-set ``.mdoc`` sidecar with its dose
rate, exposure time, frame count and time stamp. All writes are atomic.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import tifffile

from ..fileio import atomic_path
from ..mrcz import MrczWriter

FORMATS = {"counts": ".mrc", "vendor": ".mrc", "tiff": ".tif"}
FOLDERS = {"counts": "movies", "vendor": "movies_vendor", "tiff": "movies_tiff"}


class MovieWriters:
    """Writes one movie's frames into every requested format at once (one frame in memory)."""

    def __init__(
        self,
        folder: Path,
        name: str,
        formats: tuple[str, ...],
        shape: tuple[int, int],
        count_dtype: str,
        vendor_gain: np.ndarray,
        pixel_size: float,
        voltage: float,
    ) -> None:
        unknown = set(formats) - set(FORMATS)
        if unknown:
            raise ValueError(f"unknown movie formats {sorted(unknown)}; choose from {sorted(FORMATS)}")
        self.count_dtype = np.dtype(count_dtype)
        self.vendor_gain = vendor_gain
        self.paths: dict[str, Path] = {}
        self._writers: dict[str, MrczWriter] = {}
        self._tiff = None
        header = {"voxel_size": pixel_size, "voltage": voltage, "compression": None}
        for fmt in formats:
            target = folder / FOLDERS[fmt]
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"{name}{FORMATS[fmt]}"
            self.paths[fmt] = path
            if fmt == "counts":
                self._writers[fmt] = MrczWriter(path, shape, self.count_dtype, **header)
            elif fmt == "vendor":
                self._writers[fmt] = MrczWriter(path, shape, np.float32, **header)
            else:
                self._tiff_context = atomic_path(path)
                self._tiff = tifffile.TiffWriter(self._tiff_context.__enter__())

    def write(self, counts: np.ndarray) -> None:
        if counts.max(initial=0) > np.iinfo(self.count_dtype).max:
            raise ValueError(
                f"a count of {counts.max()} does not fit {self.count_dtype}; use a wider --count-dtype"
            )
        stored = counts.astype(self.count_dtype)
        if "counts" in self._writers:
            self._writers["counts"].write_frame(stored)
        if "vendor" in self._writers:
            self._writers["vendor"].write_frame(stored.astype(np.float32) * self.vendor_gain)
        if self._tiff is not None:
            # No shaped metadata: plain pages, as SerialEM writes, which readers join into one series.
            self._tiff.write(stored, compression="lzw", metadata=None)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        if self._tiff is not None:
            self._tiff.close()
            self._tiff_context.__exit__(None, None, None)

    def abort(self) -> None:
        for writer in self._writers.values():
            writer.abort()
        if self._tiff is not None:
            self._tiff.close()
            self._tiff_context.__exit__(RuntimeError, RuntimeError("aborted"), None)


def write_mdoc(
    movie: Path,
    *,
    shape: tuple[int, int],
    pixel_size: float,
    voltage: float,
    dose_rate: float,
    frame_time: float,
    n_frames: int,
    when: dt.datetime,
    data_mode: int,
) -> Path:
    """SerialEM frame-set sidecar ``<movie>.mdoc`` (dose rate in e/physical px/s)."""
    exposure = frame_time * n_frames
    text = "\n".join(
        [
            f"PixelSpacing = {pixel_size:g}",
            f"Voltage = {voltage:g}",
            f"ImageFile = {movie.name}",
            f"ImageSize = {shape[1]} {shape[0]}",
            f"DataMode = {data_mode}",
            "",
            "[FrameSet = 0]",
            f"ExposureTime = {exposure:g}",
            f"ExposureDose = {dose_rate * exposure / pixel_size**2:.4f}",
            f"DoseRate = {dose_rate:g}",
            f"NumSubFrames = {n_frames}",
            f"FrameDosesAndNumber = {dose_rate * frame_time / pixel_size**2:.5f} {n_frames}",
            f"DateTime = {when.strftime('%d-%b-%y  %H:%M:%S')}",
            "",
        ]
    )
    path = movie.with_name(movie.name + ".mdoc")
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
