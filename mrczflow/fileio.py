"""File helpers every step uses: atomic outputs and page-aligned buffers.

Atomic: an output is written under a hidden temporary name in the same folder
and renamed over the final name only when complete, so a failed or killed job
never leaves a partial file that Snakemake or a user could mistake for a
result.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

PAGE = 4096


def temporary_sibling(path: str | os.PathLike) -> Path:
    """The hidden name ``path`` is written under before it is renamed into place (same folder: atomic).

    One name per output, not a unique one: only one job writes a given output
    at a time, so a file already there was left by a writer that was killed
    (SIGKILL skips every clean-up) and is removed now, at no cost of listing
    the folder. It keeps the final suffix so format-sniffing writers work.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.part{path.suffix}")
    tmp.unlink(missing_ok=True)
    return tmp


class AtomicFile:
    """A binary file that appears at ``path`` only when :meth:`commit` is called.

    Use as a context manager: leaving the block normally commits, an exception
    removes the temporary file and leaves any existing ``path`` untouched.
    """

    def __init__(self, path: str | os.PathLike, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.fsync = fsync
        if not self.path.parent.is_dir():
            raise FileNotFoundError(f"{self.path}: output folder {self.path.parent} does not exist")
        self.tmp = temporary_sibling(self.path)
        self.committed = False
        self.handle: BinaryIO = open(self.tmp, "w+b")  # noqa: SIM115 - closed in commit/abort

    def commit(self) -> None:
        self.handle.flush()
        if self.fsync:
            os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.tmp, self.path)
        self.committed = True

    def abort(self) -> None:
        """Remove the temporary file, even when closing it fails again (a full disk)."""
        if self.committed:
            return
        try:
            self.handle.close()
        except OSError:
            pass  # the write already failed; the file is discarded either way
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write to; rename it to ``path`` on success.

    For outputs written by other libraries (YAML, PNG, TIFF) that want a name.
    The temporary name keeps the final suffix so format-sniffing writers work.
    """
    path = Path(path)
    tmp = temporary_sibling(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def aligned_empty(shape: tuple[int, ...] | int, dtype: np.dtype | type) -> np.ndarray:
    """``numpy.empty`` whose data start on a page boundary.

    Large numpy allocations start 16 bytes past a page boundary; decoding into
    those ran 3-4x slower than into page-aligned buffers on our machines.
    """
    dtype = np.dtype(dtype)
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + PAGE, dtype=np.uint8)
    start = (-raw.ctypes.data) % PAGE
    return raw[start : start + nbytes].view(dtype).reshape(shape)
