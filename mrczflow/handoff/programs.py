"""One folder per downstream program: its gain, its defects and the exact settings to use them.

``write_handoff`` fills ``results/handoff/<program>/``:

================ ========================================================================
relion           ``gain.<ext>``, ``defects.txt`` (``--defect_file``), ``movies.star``,
                 ``commands.txt`` (``relion_import`` and ``relion_run_motioncorr`` flags)
motioncor        ``gain.<ext>``, ``defect_map.<ext>`` (``-DefectMap``), ``defects.txt``
                 (``-DefectFile``), ``commands.txt`` (a ``MotionCor2``/``MotionCor3`` line)
cryosparc        ``gain.<ext>``, ``defect_map.<ext>``, ``commands.txt`` (Import Movies settings)
================ ========================================================================

``<ext>`` is the exported movies' format (``tif`` or ``mrc``), so no gain
rotation or flip is needed in any program (:mod:`.conventions`). When the
config names a vendor gain, ``commands.txt`` also gives the flags for using
that file as it is instead.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from .. import mrcz
from ..fileio import atomic_path
from .conventions import FLAG_NAMES, PROGRAMS, ConventionError, defect_rectangles, file_format, flags_for_gain
from .export import movie_suffix
from .relion import Movie, Optics, write_movies_star


def write_image(path: str | os.PathLike, image: np.ndarray, *, pixel_size: float = 0.0) -> None:
    """One 2-D image as TIFF or MRC by ``path``'s extension, in file order (uncompressed)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        if file_format(path) == "tiff":
            tifffile.imwrite(tmp, image, photometric="minisblack", metadata=None)
        else:
            mrcz.write(tmp, image, compression=None, voxel_size=pixel_size)


def _vendor_flags(
    program: str, vendor: str | None, fmt: str, frame_shape, rotate: int, flip: str
) -> list[str]:
    if not vendor:
        return []
    if program not in FLAG_NAMES:
        return [
            f"# The vendor's own gain ({vendor}): no flags derived, {program} documents no rotation",
            "# convention we could check; use gain above.",
        ]
    try:
        rotation, flip_flag = flags_for_gain(program, file_format(vendor), fmt, frame_shape, rotate, flip)
    except ConventionError as exc:
        return [f"# The vendor's own gain ({vendor}): {exc}"]
    rot_name, flip_name = FLAG_NAMES[program]
    return [
        f"# Or the vendor's own gain file as it is (config gain: rotate {rotate}, flip {flip}):",
        f"#   {vendor} with {rot_name} {rotation} {flip_name} {flip_flag}",
    ]


def write_handoff(
    program: str,
    out_dir: str | os.PathLike,
    movies: Sequence[Movie],
    *,
    frame_shape: tuple[int, int],
    frames: int,
    fmt: str,
    optics: Optics,
    gain: np.ndarray | None,
    defects: np.ndarray | None,
    vendor_gain: str | None = None,
    vendor_rotate: int = 0,
    vendor_flip: str = "none",
    gain_note: str | None = None,
) -> list[str]:
    """Write ``program``'s hand-off folder (module doc); returns the files written.

    ``gain_note`` says how the gain was made (written in ``commands.txt``).
    """
    if program not in PROGRAMS:
        raise ValueError(f"program must be one of {PROGRAMS}, got {program!r}")
    if not movies:
        raise ValueError("no exported movies to hand off")
    out = Path(out_dir).absolute()  # commands name files wherever the program runs
    out.mkdir(parents=True, exist_ok=True)
    ext = movie_suffix(fmt)
    written: list[str] = []
    gain_path = defect_map = defect_list = None
    if gain is not None:
        if gain.shape != tuple(frame_shape):
            raise ValueError(f"gain is {gain.shape}, frames are {tuple(frame_shape)}")
        gain_path = out / f"gain{ext}"
        write_image(gain_path, np.asarray(gain, np.float32), pixel_size=optics.pixel_size)
        written.append(str(gain_path))
    if defects is not None and defects.any():
        if program in ("motioncor", "cryosparc"):
            defect_map = out / f"defect_map{ext}"
            write_image(defect_map, defects.astype(np.uint8))
            written.append(str(defect_map))
        if program in ("relion", "motioncor"):
            defect_list = out / "defects.txt"
            rectangles = defect_rectangles(defects, program, fmt)
            with atomic_path(defect_list) as tmp:
                tmp.write_text("".join(f"{x} {y} {w} {h}\n" for x, y, w, h in rectangles))
            written.append(str(defect_list))
    doses = [m.dose_per_frame for m in movies if m.dose_per_frame]
    dose = float(np.median(doses)) if doses else None
    if program == "relion":
        star = out / "movies.star"
        write_movies_star(star, movies, optics)
        written.append(str(star))
    lines = _commands(program, out, movies, fmt, optics, dose, frames, gain_path, defect_map, defect_list)
    if gain_note and gain_path:
        lines.insert(2, f"# The gain: {gain_note}.")
    lines += _vendor_flags(program, vendor_gain, fmt, frame_shape, vendor_rotate, vendor_flip)
    commands = out / "commands.txt"
    with atomic_path(commands) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    written.append(str(commands))
    return written


def _commands(
    program, out, movies, fmt, optics, dose, frames, gain_path, defect_map, defect_list
) -> list[str]:
    folder = os.path.dirname(movies[0].path)
    ext = movie_suffix(fmt)
    dose_text = "unknown (set it yourself)" if dose is None else f"{dose:.4g}"
    head = [
        f"# {program} hand-off by mrczflow: {len(movies)} movies ({fmt}, {frames} frames) in {folder}",
        "# The gain and defect files are in the movies' own format and orientation: no rotation or flip.",
    ]
    if program == "relion":
        lines = head + [
            f"relion_import --do_movies --optics_group_name {optics.name} --angpix {optics.pixel_size:g}"
            f" --kV {optics.voltage:g} --Cs {optics.cs:g} --Q0 {optics.amplitude_contrast:g}"
            f" --i '{folder}/*{ext}' --odir Import/job001/ --ofile movies.star",
            f"# or use {out / 'movies.star'} directly as the movies of a Motion correction job.",
            "relion_run_motioncorr --i Import/job001/movies.star --o MotionCorr/job002/"
            f" --dose_per_frame {dose_text} --use_own --j 4 --bin_factor 1 --gain_rot 0 --gain_flip 0"
            + (f" --gainref {gain_path}" if gain_path else "")
            + (f" --defect_file {defect_list}" if defect_list else ""),
            "# Per-movie gains and hot pixels for Bayesian polishing: movies/<stack>.star here;",
            "# mrczflow relion-graft puts them into the per-movie STARs MotionCorr/job002/ wrote.",
        ]
    elif program == "motioncor":
        lines = head + [
            f"MotionCor2 -InTiff {folder}/ -InSuffix {ext} -Serial 1 -OutMrc MotionCor/"
            if fmt == "tiff"
            else f"MotionCor2 -InMrc {folder}/ -InSuffix {ext} -Serial 1 -OutMrc MotionCor/"
        ]
        lines[-1] += f" -PixSize {optics.pixel_size:g} -kV {optics.voltage:g} -FmDose {dose_text}"
        lines[-1] += " -RotGain 0 -FlipGain 0" + (f" -Gain {gain_path}" if gain_path else "")
        lines[-1] += f" -DefectMap {defect_map}" if defect_map else ""
        lines.append(
            "# MotionCor3 takes the same flags. -DefectFile defects.txt is the same defects as a list."
        )
    else:
        total = "unknown" if dose is None else f"{dose * frames:.4g}"
        lines = head + [
            "# cryoSPARC Import Movies job:",
            f"Movies data path: {folder}/*{ext}",
            f"Gain reference path: {gain_path if gain_path else '(none)'}",
            f"Defect file path: {defect_map if defect_map else '(none)'}",
            "Flip gain ref & defect file in X?: off",
            "Flip gain ref & defect file in Y?: off",
            "Rotate gain ref?: 0",
            f"Raw pixel size (A): {optics.pixel_size:g}",
            f"Accelerating Voltage (kV): {optics.voltage:g}",
            f"Spherical Aberration (mm): {optics.cs:g}",
            f"Total exposure dose (e/A^2): {total}",
        ]
    return lines
