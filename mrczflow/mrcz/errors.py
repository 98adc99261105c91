"""Errors raised by :mod:`mrczflow.mrcz`.

Every message is one line that starts with the file name, so a log or a
Snakemake error shows which file is bad and why.
"""

from __future__ import annotations

import os


class MrczError(ValueError):
    """A file is not valid MRC/MRCZ, or cannot be written as asked.

    Parameters
    ----------
    path
        The file concerned.
    problem
        What is wrong, and where helpful what to do about it.
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ChecksumError(MrczError):
    """Decoded data do not match the checksum stored when the file was written.

    ``frame`` is the index of the first bad frame, or ``None`` when the
    whole-file checksum is the one that failed.
    """

    def __init__(self, path: str | os.PathLike, problem: str, frame: int | None = None) -> None:
        self.frame = frame
        super().__init__(path, problem)
