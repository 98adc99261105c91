"""RELION's STAR files: an import-ready ``movies.star`` and per-movie metadata STARs (written with ``starfile``).

``movies.star`` has RELION's two blocks, ``optics`` (one optics group: original
and movie pixel size, voltage, Cs, amplitude contrast) and
``movies`` (``rlnMicrographMovieName``, ``rlnOpticsGroup``, and each movie's
dose per frame in e/A^2 as ``rlnMicrographDoseRate``, the label RELION's
per-movie STARs use for it).

A per-movie STAR follows ``Micrograph::write`` (``src/micrograph_model.cpp``):
block ``general`` (sizes, movie, ``rlnMicrographGainName``,
``rlnMicrographDefectFile``, binning, original pixel size, dose per frame,
pre-exposure, voltage, start frame, ``rlnMotionModelVersion``) and block
``hot_pixels`` (``rlnCoordinateX/Y`` as RELION holds the movie: see
:mod:`.conventions`). Bayesian polishing reads the gain and hot pixels of each
movie from there, so each movie can carry its own KOMA gain and its own
outliers. Ours carry no motion (``rlnMotionModelVersion`` 0 and no
``global_shift``): :func:`graft` copies our gain and hot pixels into the
per-movie STARs RELION's motion correction wrote, keeping its shifts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import starfile

from ..fileio import atomic_path


@dataclasses.dataclass(frozen=True)
class Optics:
    """One RELION optics group (``handoff.optics`` in the config; pixel size from ``ingest.pixel_size``)."""

    pixel_size: float
    voltage: float = 300.0
    cs: float = 2.7
    amplitude_contrast: float = 0.1
    name: str = "opticsGroup1"

    def check(self) -> None:
        if not self.pixel_size or self.pixel_size <= 0:
            raise ValueError("RELION needs the pixel size: set ingest.pixel_size (Angstrom)")


@dataclasses.dataclass(frozen=True)
class Movie:
    """One exported movie and what RELION needs to know of it."""

    path: str
    dose_per_frame: float | None  # e/A^2


def _write(path: str | os.PathLike, blocks: dict) -> None:
    with atomic_path(path) as tmp:
        starfile.write(blocks, tmp, overwrite=True)


def write_movies_star(path: str | os.PathLike, movies: Sequence[Movie], optics: Optics) -> None:
    """RELION's import ``movies.star`` for ``movies`` (paths written as given)."""
    optics.check()
    optics_block = pd.DataFrame(
        {
            "rlnOpticsGroupName": [optics.name],
            "rlnOpticsGroup": [1],
            "rlnMicrographOriginalPixelSize": [optics.pixel_size],
            "rlnMicrographPixelSize": [optics.pixel_size],  # unbinned: the movies' own pixel size
            "rlnVoltage": [optics.voltage],
            "rlnSphericalAberration": [optics.cs],
            "rlnAmplitudeContrast": [optics.amplitude_contrast],
        }
    )
    movies_block = pd.DataFrame(
        {
            "rlnMicrographMovieName": [m.path for m in movies],
            "rlnOpticsGroup": [1] * len(movies),
            "rlnMicrographDoseRate": [
                np.nan if m.dose_per_frame is None else m.dose_per_frame for m in movies
            ],
        }
    )
    _write(path, {"optics": optics_block, "movies": movies_block})


def write_movie_star(
    path: str | os.PathLike,
    movie: Movie,
    shape: Sequence[int],
    optics: Optics,
    *,
    gain: str | None,
    defect_file: str | None,
    hot_x: np.ndarray,
    hot_y: np.ndarray,
) -> None:
    """One movie's metadata STAR (module doc); ``shape`` is (frames, rows, columns)."""
    optics.check()
    general = {
        "rlnImageSizeX": int(shape[2]),
        "rlnImageSizeY": int(shape[1]),
        "rlnImageSizeZ": int(shape[0]),
        "rlnMicrographMovieName": movie.path,
    }
    if gain:
        general["rlnMicrographGainName"] = gain
    if defect_file:
        general["rlnMicrographDefectFile"] = defect_file
    general.update(
        {
            "rlnMicrographBinning": 1.0,
            "rlnMicrographOriginalPixelSize": optics.pixel_size,
            "rlnMicrographDoseRate": movie.dose_per_frame or 0.0,
            "rlnMicrographPreExposure": 0.0,
            "rlnVoltage": optics.voltage,
            "rlnMicrographStartFrame": 1,
            "rlnMotionModelVersion": 0,
        }
    )
    hot = pd.DataFrame(
        {"rlnCoordinateX": np.asarray(hot_x, float), "rlnCoordinateY": np.asarray(hot_y, float)}
    )
    _write(path, {"general": general, "hot_pixels": hot})


def graft(ours: str | os.PathLike, theirs: str | os.PathLike, out: str | os.PathLike) -> None:
    """Write ``out``: RELION's per-movie STAR ``theirs`` with the gain, defect file and hot pixels of ``ours``.

    Every other block (``global_shift``, local motion) and value is RELION's.
    Fails if the two describe movies of different sizes.
    """
    mine = starfile.read(ours, always_dict=True)
    blocks = starfile.read(theirs, always_dict=True)
    if "general" not in blocks:
        raise ValueError(f"{os.fspath(theirs)}: no 'general' block: not a RELION per-movie STAR")
    general = dict(blocks["general"])
    for key in ("rlnImageSizeX", "rlnImageSizeY"):
        if int(general[key]) != int(mine["general"][key]):
            raise ValueError(f"{os.fspath(theirs)}: {key} {general[key]}, ours {mine['general'][key]}")
    for key in ("rlnMicrographGainName", "rlnMicrographDefectFile"):
        if key in mine["general"]:
            general[key] = mine["general"][key]
    blocks["general"] = general
    blocks["hot_pixels"] = mine.get("hot_pixels", pd.DataFrame({"rlnCoordinateX": [], "rlnCoordinateY": []}))
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    _write(out, blocks)
