"""How RELION, MotionCor2/3 and cryoSPARC orient a movie, a gain and a defect list, and the flags that match them.

Arrays here are in *file order*: row 0 is the first row stored in the file,
as ``tifffile`` and ``mrcfile`` return it (and as our archive keeps frames).
What each program does differently:

TIFF rows
    RELION flips the rows of every TIFF it reads, movie, gain or defect map
    alike (``src/rwTIFF.h``, "Flip the Y axis": the TIFF origin is top-left,
    the MRC origin bottom-left; "IMOD, EMAN2, SerialEM and MotionCor2 flip the
    Y axis whenever they read or write a TIFF file. We follow this").
    MotionCor3 does the same: ``TiffUtil/CLoadTiffImage.cpp``
    (``mReadByStrip`` fills rows from the bottom) for movies, and
    ``CLoadRefs.cpp`` (``mLoadGainTiff``) reads a TIFF gain with the same
    loader. MRC files are read in file order by all of them.
    cryoSPARC is closed source and documents no TIFF convention, so nothing
    handed to it may depend on one: see :data:`TIFF_ROWS_FLIPPED`.

Gain rotation and flip
    RELION ``--gain_rot k`` (``src/motioncorr_runner.cpp``,
    ``prepareGainReference``) rotates with ``ImageOp::rotate90/180/270``
    (``src/jaz/single_particle/img_proc/image_op.h``: ``dest(x, ny-1-y) =
    src(y, x)``, "clock-wise in relion_display", whose origin is top-left),
    i.e. ``numpy.rot90(gain, -k)`` in file order; then ``--gain_flip``
    1 = ``flipY`` (rows reversed, "upside down"), 2 = ``flipX`` (columns
    reversed). Rotation first, then flip.
    MotionCor2/3 ``-RotGain k`` rotates "counter-clockwise" in the MRC display
    (origin bottom-left), which is the same array operation: RELION's source
    says so ("This is equivalent to MotionCor2's -RotGain 1"), and
    MotionCor3's ``MrcUtil/G90Rotate2D.cu`` kernel, worked through for
    ``k = 1``, gives ``dest[r, c] = src[ny-1-c, r]`` = ``numpy.rot90(src, -1)``.
    ``-FlipGain`` 1 = upside down (``GFlip2D::Vertical``), 2 = left-right;
    rotation first (``Readme.txt``, 08-19-2016). The left-right kernel of
    MotionCor3 1.2.1 (``mGHorizontal``) copies one half onto the other
    without swapping, so :func:`flags_for_gain` never asks for
    ``-FlipGain 2``: a left-right flip is ``-RotGain 2 -FlipGain 1``.
    cryoSPARC's Import Movies job has "Flip gain ref & defect file in X/Y?"
    and "Rotate gain ref?" (guide.cryosparc.com, Job: Import Movies) but no
    public source that fixes their order or sense.

What we hand off therefore needs no flag at all: the gain and the defect map
are written in the same file format as the exported movies, in the movies'
file order, so a program that flips TIFF rows flips all of them alike and one
that does not flips none. Only the defect *list* (text coordinates, which no
reader flips) and RELION's hot-pixel coordinates depend on the TIFF rule,
which is known for RELION and MotionCor and is why cryoSPARC gets the map.
:func:`flags_for_gain` gives the flags for using a vendor's own gain file
instead (the facility's original, in its own orientation).
"""

from __future__ import annotations

import os

import numpy as np

from ..gain.reference import orient

PROGRAMS = ("relion", "motioncor", "cryosparc")
MOVIE_FORMATS = ("tiff", "mrc")

# Whether each program flips the rows of a TIFF when it reads it (None: not documented).
TIFF_ROWS_FLIPPED: dict[str, bool | None] = {"relion": True, "motioncor": True, "cryosparc": None}

# The flags each program understands for a gain file, in the order flags_for_gain prefers them.
FLAG_NAMES = {
    "relion": ("--gain_rot", "--gain_flip"),
    "motioncor": ("-RotGain", "-FlipGain"),
}


class ConventionError(ValueError):
    """A program or format this module does not know, or a gain no flag can match."""


def file_format(path: str | os.PathLike) -> str:
    """``"tiff"`` or ``"mrc"`` by extension (``.gain`` files from EPU are TIFF)."""
    name = os.fspath(path).lower()
    if name.endswith((".tif", ".tiff", ".gain")):
        return "tiff"
    if name.endswith((".mrc", ".mrcs", ".mrcz")):
        return "mrc"
    raise ConventionError(f"{os.fspath(path)}: neither TIFF (.tif .tiff .gain) nor MRC (.mrc .mrcs)")


def _check(program: str, fmt: str) -> None:
    if program not in PROGRAMS:
        raise ConventionError(f"program must be one of {PROGRAMS}, got {program!r}")
    if fmt not in MOVIE_FORMATS:
        raise ConventionError(f"file format must be one of {MOVIE_FORMATS}, got {fmt!r}")


def as_read(image: np.ndarray, program: str, fmt: str, *, tiff_flipped: bool | None = None) -> np.ndarray:
    """``image`` (file order, last two axes) as ``program`` holds it after reading a ``fmt`` file.

    ``tiff_flipped`` overrides :data:`TIFF_ROWS_FLIPPED` (needed for cryoSPARC,
    whose rule is unknown: callers check both).
    """
    _check(program, fmt)
    flipped = TIFF_ROWS_FLIPPED[program] if tiff_flipped is None else tiff_flipped
    if flipped is None:
        raise ConventionError(f"{program}: no documented TIFF row order; pass tiff_flipped")
    return image[..., ::-1, :] if fmt == "tiff" and flipped else image


def apply_gain_flags(gain: np.ndarray, program: str, rotation: int, flip: int) -> np.ndarray:
    """What ``program`` does to a gain it has read, given its rotation and flip flags (module doc)."""
    if program not in FLAG_NAMES:
        raise ConventionError(f"{program}: no gain rotation/flip flags are documented")
    if rotation not in (0, 1, 2, 3) or flip not in (0, 1, 2):
        raise ConventionError(f"{program}: rotation must be 0-3 and flip 0-2, got {rotation}, {flip}")
    out = np.rot90(gain, -rotation)
    if flip == 1:
        out = out[::-1, :]
    elif flip == 2:
        out = out[:, ::-1]
    return out


def flags_for_gain(
    program: str,
    gain_format: str,
    movie_format: str,
    frame_shape: tuple[int, int],
    rotate: int = 0,
    flip: str = "none",
) -> tuple[int, int]:
    """The (rotation, flip) flags that make ``program`` match a vendor gain file to the movies.

    ``rotate``/``flip`` are this workflow's ``gain`` settings: the vendor gain,
    in its file order, rotated ``rotate`` degrees counter-clockwise
    (``numpy.rot90``) then flipped, has the movies' file order. Found by
    trying every flag pair on a probe with no symmetry, preferring no flip,
    then ``flip 1`` (see the module doc on ``-FlipGain 2``).
    """
    _check(program, movie_format)
    _check(program, gain_format)
    if program not in FLAG_NAMES:
        raise ConventionError(f"{program}: no gain flags are documented; use the handed-off gain")
    ny, nx = frame_shape
    vendor_shape = (ny, nx) if rotate in (0, 180) else (nx, ny)
    probe = np.arange(ny * nx, dtype=np.int64).reshape(vendor_shape)
    wanted = as_read(orient(probe, rotate, flip), program, movie_format)
    seen = as_read(probe, program, gain_format)
    for flip_flag in (0, 1, 2):
        for rotation in (0, 1, 2, 3):
            candidate = apply_gain_flags(seen, program, rotation, flip_flag)
            if candidate.shape == wanted.shape and np.array_equal(candidate, wanted):
                return rotation, flip_flag
    raise ConventionError(f"{program}: no rotation/flip matches the gain to the movies")  # pragma: no cover


def defect_rectangles(mask: np.ndarray, program: str, movie_format: str) -> list[tuple[int, int, int, int]]:
    """Defect pixels as MotionCor2-style ``x y w h`` rectangles in ``program``'s coordinates.

    One rectangle per run of defect pixels along a row, so a bad column is one
    line per row and a bad row one line. Rows are counted as ``program`` holds
    the movie (RELION ``fillDefectMask`` in ``src/motioncorr_runner.cpp``
    indexes its as-read image with ``x y w h`` directly).
    """
    seen = as_read(np.asarray(mask, bool), program, movie_format)
    rectangles = []
    for y in np.flatnonzero(seen.any(axis=1)).tolist():
        row = np.concatenate(([False], seen[y], [False]))
        edges = np.flatnonzero(row[1:] != row[:-1])
        for start, stop in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
            rectangles.append((start, y, stop - start, 1))
    return rectangles


def hot_pixel_coordinates(mask: np.ndarray, program: str, movie_format: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of each flagged pixel as ``program`` holds the movie (RELION's per-movie ``hot_pixels``)."""
    ys, xs = np.nonzero(as_read(np.asarray(mask, bool), program, movie_format))
    return xs, ys
