"""The hand-off steps the workflow's rules run: export a movie, write a program's folder, one movie's RELION STAR."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import mrcz
from ..gain.fit import GammaFit, gain_to_gamma
from ..gain.reference import load_gain
from ..gain.settings import GainSettings
from ..jobs import progress, read_json, write_json
from ..koma.settings import KomaSettings
from ..koma.steps import window_correction
from .conventions import hot_pixel_coordinates
from .export import export_movie
from .programs import write_handoff, write_image
from .relion import Movie, Optics, write_movie_star
from .session import persistent_defects, session_gain


def export_step(archive: str | os.PathLike, out: str | os.PathLike, *, stack: str, fmt: str = "tiff") -> dict:
    """Rule export_movie: the archive as a ``fmt`` movie, every frame read back and checked."""
    with mrcz.MrczReader(archive) as reader:
        n_frames = reader.n_frames
    with progress(n_frames, f"export {stack}") as bar:
        info = export_movie(archive, out, fmt, on_frame=lambda: bar.update(1))
    if info.get("warning"):
        print(f"warning: {stack}: {info['warning']}", file=sys.stderr, flush=True)
    return info


def pre_koma_gain(
    vendor: str | os.PathLike | None,
    frame_shape: tuple[int, int],
    orientation: GainSettings,
    fit_path: str | os.PathLike | None,
    dose_rate: float | None,
) -> np.ndarray | None:
    """The gain the workflow applies before KOMA: the vendor gain oriented, ``** gamma(dose_rate)`` with a fit."""
    if not vendor:
        return None
    gain = load_gain(vendor, frame_shape, orientation.rotate, orientation.flip)
    if fit_path:
        if not dose_rate:
            raise ValueError("gamma is on but no dose rate is known (see ingest.dose.source)")
        gamma, _ = GammaFit.read(fit_path).gamma(float(dose_rate))
        gain = gain_to_gamma(gain, gamma)
    return gain


def _with_pixel_size(optics: Optics, recorded: Sequence[float | None]) -> Optics:
    """``optics`` with the pixel size the ingest records give (from each movie's .mdoc/.xml) when the config has none."""
    if optics.pixel_size:
        return optics
    known = [float(p) for p in recorded if p]
    return dataclasses.replace(optics, pixel_size=float(np.median(known))) if known else optics


def _movie(record: dict[str, Any], path: str | os.PathLike, pixel_size: float) -> Movie:
    dose = record.get("dose_per_frame")
    per_area = dose / pixel_size**2 if dose and pixel_size else None
    return Movie(os.path.abspath(path), per_area)


def handoff_step(
    program: str,
    out_dir: str | os.PathLike,
    records: Sequence[str | os.PathLike],
    movies: Sequence[str | os.PathLike],
    *,
    fmt: str,
    optics: Optics,
    koma_sums: Sequence[str | os.PathLike] = (),
    masks: Sequence[str | os.PathLike] = (),
    vendor_gain: str | None = None,
    gain: GainSettings | None = None,
    fit_path: str | os.PathLike | None = None,
    koma: KomaSettings | None = None,
    persistent: float = 0.5,
) -> list[str]:
    """Rule handoff_<program>: the session's gain and defects, and the program's files (:mod:`.programs`)."""
    if len(records) != len(movies):
        raise ValueError(f"{len(records)} records for {len(movies)} movies")
    infos = [read_json(path) for path in records]
    optics = _with_pixel_size(optics, [info.get("pixel_size") for info in infos])
    shape = tuple(infos[0]["shape"])
    rates = [info["dose_rate"] for info in infos if info.get("dose_rate")]
    orientation = gain or GainSettings()
    pre = pre_koma_gain(
        vendor_gain, shape[1:], orientation, fit_path, float(np.median(rates)) if rates else None
    )
    session, how = session_gain(koma_sums, pre, koma)
    return write_handoff(
        program,
        out_dir,
        [_movie(info, path, optics.pixel_size) for info, path in zip(infos, movies, strict=True)],
        frame_shape=shape[1:],
        frames=shape[0],
        fmt=fmt,
        optics=optics,
        gain=session,
        gain_note=how,
        defects=persistent_defects(masks, persistent) if masks else None,
        vendor_gain=vendor_gain,
        vendor_rotate=orientation.rotate,
        vendor_flip=orientation.flip,
    )


def relion_movie_step(
    record_path: str | os.PathLike,
    movie: str | os.PathLike,
    star_out: str | os.PathLike,
    *,
    fmt: str,
    optics: Optics,
    gain_out: str | os.PathLike | None = None,
    koma_sum: str | os.PathLike | None = None,
    window: Sequence[str | os.PathLike] = (),
    flags: str | os.PathLike | None = None,
    vendor_gain: str | None = None,
    gain: GainSettings | None = None,
    fit_path: str | os.PathLike | None = None,
    koma: KomaSettings | None = None,
    koma_radius: int | None = None,
    defect_file: str | None = None,
    stats_out: str | os.PathLike | None = None,
) -> dict:
    """Rule relion_movie: one movie's STAR with its own gain (KOMA's, else the gamma/vendor gain) and hot pixels.

    The gain is made from the kept sums (the window's KOMA sums, the nearest
    ``2 koma_radius`` it uses, as rule koma does), written in the movie's
    format and file order (:mod:`.conventions`).
    """
    record = read_json(record_path)
    optics = _with_pixel_size(optics, [record.get("pixel_size")])
    shape = tuple(record["shape"])
    pre = pre_koma_gain(vendor_gain, shape[1:], gain or GainSettings(), fit_path, record.get("dose_rate"))
    image = pre
    if koma_sum is not None:
        limit = None if koma_radius is None else 2 * koma_radius
        image = window_correction(koma_sum, window, settings=koma or KomaSettings(), gain=pre, limit=limit)[
            0
        ].gain_reference()
    gain_name = None
    if image is not None and gain_out is not None:
        write_image(gain_out, np.asarray(image, np.float32), pixel_size=optics.pixel_size)
        gain_name = os.path.abspath(gain_out)
    hot = np.zeros(shape[1:], bool)
    if flags:
        hot = mrcz.read(flags) != 0
        hot = hot[0] if hot.ndim == 3 else hot
    xs, ys = hot_pixel_coordinates(hot, "relion", fmt)
    write_movie_star(
        star_out,
        _movie(record, movie, optics.pixel_size),
        shape,
        optics,
        gain=gain_name,
        defect_file=os.path.abspath(defect_file) if defect_file else None,
        hot_x=xs,
        hot_y=ys,
    )
    info = {
        "stack": record["stack"],
        "gain": gain_name,
        "hot_pixels": int(xs.size),
        "koma": koma_sum is not None,
    }
    if stats_out:
        write_json(stats_out, info)
    return info
