"""Gain references: loading, orientation and the check against the movies' frame shape.

Users get the orientation of a gain reference wrong constantly (K2 references
are often stored rotated or flipped relative to the movies), so it is always
explicit: ``rotate`` (degrees counter-clockwise: 0, 90, 180, 270) is applied
first, then ``flip`` (``none``, ``x`` = left-right, ``y`` = up-down). The
result must have the movies' frame shape, or loading fails and says which
rotations would fit.
"""

from __future__ import annotations

import os

import numpy as np

from .. import mrcz

ROTATIONS = (0, 90, 180, 270)
FLIPS = ("none", "x", "y")


class GainError(ValueError):
    """A gain reference is unusable as configured."""


def orient(gain: np.ndarray, rotate: int = 0, flip: str = "none", *, copy: bool = True) -> np.ndarray:
    """Rotate ``gain`` by ``rotate`` degrees counter-clockwise, then flip it (``copy=False``: a view)."""
    if rotate not in ROTATIONS:
        raise GainError(f"gain rotate must be one of {ROTATIONS}, got {rotate}")
    if flip not in FLIPS:
        raise GainError(f"gain flip must be one of {FLIPS}, got {flip!r}")
    oriented = np.rot90(gain, k=rotate // 90)
    if flip == "x":
        oriented = oriented[:, ::-1]
    elif flip == "y":
        oriented = oriented[::-1, :]
    return np.ascontiguousarray(oriented) if copy else oriented


def read_gain(path: str | os.PathLike) -> np.ndarray:
    """Read a gain reference as stored (float32, one image, not oriented)."""
    gain = mrcz.read(path)
    if gain.ndim == 3:
        if gain.shape[0] != 1:
            raise GainError(
                f"{os.fspath(path)}: a gain reference has one frame, this file has {gain.shape[0]}"
            )
        gain = gain[0]
    return gain.astype(np.float32)


def load_gain(
    path: str | os.PathLike,
    frame_shape: tuple[int, int],
    rotate: int = 0,
    flip: str = "none",
    *,
    raw: np.ndarray | None = None,
) -> np.ndarray:
    """Read, orient and check a gain reference (multiplicative, as vendors write them).

    Returns float32 of ``frame_shape``. Fails on a shape that does not match,
    and on NaN, infinite, zero or negative values. ``raw`` is the file's
    content if the caller has already read it (:func:`read_gain`).
    """
    gain = read_gain(path) if raw is None else raw
    oriented = orient(gain, rotate, flip)
    if oriented.shape != tuple(frame_shape):
        fits = [r for r in ROTATIONS if np.rot90(gain, k=r // 90).shape == tuple(frame_shape)]
        hint = (
            f"rotations that fit: {fits}" if fits else "no rotation fits: is it the right detector/binning?"
        )
        raise GainError(
            f"{os.fspath(path)}: gain reference is {gain.shape[0]}x{gain.shape[1]} (rows x columns), "
            f"{oriented.shape[0]}x{oriented.shape[1]} after rotate {rotate}, but movie frames are "
            f"{frame_shape[0]}x{frame_shape[1]}; {hint}"
        )
    _refuse(
        path,
        oriented,
        ~np.isfinite(oriented) | (oriented <= 0),
        "gain values are NaN, infinite, zero or negative",
    )
    return oriented


def _refuse(path: str | os.PathLike, image: np.ndarray, bad: np.ndarray, what: str) -> None:
    """A :class:`GainError` naming the file, how many values are ``bad`` and the first, if any is."""
    if bad.any():
        y, x = np.argwhere(bad)[0]
        raise GainError(f"{os.fspath(path)}: {int(bad.sum())} {what} (first at y={y}, x={x}: {image[y, x]})")


def load_readout(path: str | os.PathLike, frame_shape: tuple[int, int]) -> np.ndarray:
    """Read and check a CMOS read-out (dark) reference: counts per frame, in the movies' orientation.

    Paper Eq. 9's ``I_CMOS``, additive, so its values may be zero or
    negative; returns float32 of ``frame_shape``. Fails, naming the file, on
    another shape or on NaN or infinite values.
    """
    pattern = read_gain(path)
    if pattern.shape != tuple(frame_shape):
        raise GainError(
            f"{os.fspath(path)}: CMOS read-out reference is {pattern.shape[0]}x{pattern.shape[1]} "
            f"(rows x columns), but movie frames are {frame_shape[0]}x{frame_shape[1]}; it is not "
            "rotated or flipped: give it in the movies' orientation"
        )
    _refuse(path, pattern, ~np.isfinite(pattern), "CMOS read-out values are NaN or infinite")
    return pattern
