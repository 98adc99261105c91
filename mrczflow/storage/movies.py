"""Reading movies in any detector format and recovering integer counts.

Formats, chosen by file extension (or forced with ``fmt``, config ``ingest.format``):

- ``.mrc``/``.mrcs``/``.mrcz``: MRC (all modes, incl. IMOD 4-bit mode 101) and MRCZ.
- ``.tif``/``.tiff``: LZW- or deflate-compressed TIFF pages (SerialEM, EPU).
- ``.eer``: Falcon 4 EER, read with tifffile/imagecodecs; ``eer_group``
  consecutive EER frames are summed into one count frame.

Vendor gain-normalised float movies (counts times the vendor gain reference)
are turned back into counts by dividing by the (oriented) gain reference and
rounding; a frame whose values are not integers within ``tolerance`` after
that is refused with the size and position of the largest residual, since
storing it as counts would change it.

A movie must be whole: any warning tifffile raises about a TIFF/EER file's
structure (an IFD offset past the end of the file, as a movie still being
copied has) is an error, and :attr:`MovieSource.raw_frames` is checked
against the movie's own metadata by the ingest step.

Memory: one frame at a time (plus the gain reference; :class:`ReadAhead`
holds two more while it decodes ahead).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile

from ..mrcz import MrczError, MrczReader
from .errors import IngestError

EXTENSIONS = {".mrc": "mrc", ".mrcs": "mrc", ".mrcz": "mrc", ".tif": "tiff", ".tiff": "tiff", ".eer": "eer"}
RECOVERY_TOLERANCE = 0.01


def movie_format(path: str | os.PathLike, fmt: str = "auto") -> str:
    if fmt != "auto":
        if fmt not in set(EXTENSIONS.values()):
            raise IngestError(f"unknown movie format {fmt!r}; choose from {sorted(set(EXTENSIONS.values()))}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix not in EXTENSIONS:
        raise IngestError(f"{os.fspath(path)}: unknown movie extension {suffix!r}; set movies.format")
    return EXTENSIONS[suffix]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def strict_tifffile(path: Path) -> Iterator[None]:
    """Turn any warning tifffile logs about ``path``'s structure into an :class:`IngestError`."""
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    if handler.messages:
        raise IngestError(
            f"{path}: damaged or incomplete TIFF/EER ({handler.messages[0].strip()}); "
            "if it is still being copied, rerun once it is complete"
        )


class MovieSource:
    """Frames of one movie, one at a time, in its stored data type.

    Attributes: ``shape`` (frames, rows, columns), ``dtype``, ``fmt``, and
    ``raw_frames``: frames as the detector wrote them (EER frames before
    grouping), which the movie's metadata must agree with.
    """

    def __init__(self, path: str | os.PathLike, fmt: str = "auto", eer_group: int = 1) -> None:
        self.path = Path(path)
        self.fmt = movie_format(path, fmt)
        self.eer_group = eer_group
        if not self.path.is_file():
            raise IngestError(f"{self.path}: no such movie")
        if self.fmt == "mrc":
            self._mrc = MrczReader(self.path)
            self.shape = self._mrc.header.shape
            self.dtype = self._mrc.dtype
            self.raw_frames = self.shape[0]
        else:
            self._tif = None
            try:
                with strict_tifffile(self.path):
                    self._tif = tifffile.TiffFile(self.path)
                    pages = self._tif.pages
                    first = pages.first
                    n_pages = len(pages)
            except IngestError:
                self.close()
                raise
            except Exception as exc:  # tifffile raises many kinds (IndexError, struct.error...) on bad files
                self.close()
                raise IngestError(f"{self.path}: not a readable TIFF/EER file ({exc})") from None
            self.raw_frames = n_pages
            group = eer_group if self.fmt == "eer" else 1
            if n_pages % group:
                raise IngestError(f"{self.path}: {n_pages} EER frames do not divide into groups of {group}")
            self.shape = (n_pages // group, *first.shape[-2:])
            self.dtype = np.dtype(np.uint16) if self.fmt == "eer" else first.dtype

    @property
    def integrity(self) -> str:
        """How the source's own integrity is known (recorded in the archive)."""
        if self.fmt != "mrc":
            return f"{self.fmt.upper()} from the detector: no checksums to verify"
        if self._mrc.frame_checksums is not None or self._mrc.whole_checksum is not None:
            return "mrczflow checksums of the source verified as it was read"
        return "MRC/MRCZ without checksums (not written by mrczflow): nothing to verify"

    def frames(self) -> Iterator[np.ndarray]:
        if self.fmt == "mrc":
            yield from self._mrc
            return
        group = self.eer_group if self.fmt == "eer" else 1
        pages = self._tif.pages
        for start in range(0, len(pages), group):
            try:
                with strict_tifffile(self.path):
                    if group == 1 and self.fmt == "tiff":
                        frame = pages[start].asarray()
                    else:
                        frame = np.zeros(self.shape[1:], np.uint16)
                        for index in range(start, start + group):
                            frame += pages[index].asarray().astype(np.uint16)
            except IngestError:
                raise
            except Exception as exc:  # tifffile/imagecodecs raise many kinds on corrupt pages
                raise IngestError(f"{self.path}: page {start} is corrupt or truncated ({exc})") from None
            if frame.shape != self.shape[1:]:
                raise IngestError(
                    f"{self.path}: page {start} is {frame.shape}, the first page {self.shape[1:]}"
                )
            yield frame

    def close(self) -> None:
        if self.fmt == "mrc":
            self._mrc.close()
        elif self._tif is not None:
            self._tif.close()

    def __enter__(self) -> MovieSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def recover_counts(
    frame: np.ndarray, gain: np.ndarray, index: int, tolerance: float = RECOVERY_TOLERANCE
) -> tuple[np.ndarray, float]:
    """Counts from a vendor gain-normalised float frame: ``round(frame / gain)``.

    Returns ``(counts as uint16, largest |residual|)``; raises
    :class:`IngestError` when the data are not integer counts times ``gain``.
    """
    # float32 suffices: its relative error (6e-8) leaves counts below 10^5 within 0.01 of an integer.
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = frame.astype(np.float32, copy=False) / gain
    if not np.isfinite(estimate).all():
        bad = ~np.isfinite(estimate)
        y, x = np.argwhere(bad)[0]
        raise IngestError(
            f"frame {index}: {int(bad.sum())} pixels are NaN or infinite (first at y={y}, x={x})"
        )
    counts = np.rint(estimate)
    residual = np.abs(estimate - counts)
    worst = float(residual.max())
    if worst > tolerance:
        y, x = np.unravel_index(int(residual.argmax()), residual.shape)
        raise IngestError(
            f"frame {index}: not integer counts times the gain reference (residual {worst:.3f} at y={y}, x={x}; "
            f"{int((residual > tolerance).sum())} pixels over {tolerance}); check gain.reference and its "
            "rotate/flip, or that the movie really is vendor gain-normalised"
        )
    if counts.min() < 0 or counts.max() > np.iinfo(np.uint16).max:
        raise IngestError(f"frame {index}: recovered counts outside 0-65535 ({counts.min()}..{counts.max()})")
    return counts.astype(np.uint16), worst


def open_movie(path: str | os.PathLike, fmt: str = "auto", eer_group: int = 1) -> MovieSource:
    """Open a movie, turning format-library errors into one-line :class:`IngestError`s."""
    try:
        return MovieSource(path, fmt, eer_group)
    except MrczError as exc:
        raise IngestError(str(exc)) from None


_DONE = object()  # the end of the frames, as ReadAhead's queue says it


class ReadAhead:
    """The frames of ``frames`` decoded ``depth`` ahead in a second thread, while the caller works on the last.

    TIFF/EER decoding (imagecodecs) and numpy release the GIL, so with two
    cores ingest's decoding and its uint8 check, sum and compression overlap
    instead of taking turns. An error while decoding is raised in the caller,
    at the frame it happened. Use as a context manager: leaving it (also by an
    exception) stops the thread before the movie is closed.

    Examples
    --------
    >>> with open_movie(path) as source, ReadAhead(source.frames()) as frames:
    ...     for frame in frames:
    ...         ...
    """

    def __init__(self, frames: Iterator[np.ndarray], depth: int = 2) -> None:
        self._frames = frames
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._decode, name="read-ahead", daemon=True)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _decode(self) -> None:
        try:
            for frame in self._frames:
                if not self._put(frame):
                    return
        except BaseException as exc:  # handed to the caller, which raises it
            self._put(exc)
            return
        self._put(_DONE)

    def __enter__(self) -> ReadAhead:
        self._thread.start()
        return self

    def __iter__(self) -> Iterator[np.ndarray]:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
