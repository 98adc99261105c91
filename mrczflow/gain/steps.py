"""The steps of rules ``fit_gamma``, ``apply_gain`` and ``normalise``.

``fit_gamma``: sums each vacuum reference one frame at a time, reads its
dose rate from its ``.mdoc``, checks the configured gain orientation against
the first reference (fails if another orientation flattens it better), finds
the best gamma of each (Eq. 10) and fits Eq. 11; it holds one reference sum
and the gain at a time. Writes the model as YAML
(parameters with uncertainties, per-reference gamma and residuals, the dose
range it is valid for, the orientation check, and the smoothed spread after
plain and after gamma-corrected gain for each reference) and the Fig. 9 plot.

``apply_gain``: the gain reference of one stack, ``gain**gamma(delta)``
at the stack's dose rate (paper Eq. 9), as float32 MRC that MotionCor2
(``-Gain``) and RELION (``--gainref``) read with the MRCZ counts; warns when
the dose rate is outside the fitted range.

``normalise`` (when ``gamma.write_movies``): the stack itself
normalised by Eq. 9, ``(counts - I_CMOS) * gain**gamma`` with an optional
CMOS/dark pattern, as float32 MRC.

Memory: a frame, a flat sum and the gain (a few frame-sized arrays).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import numpy as np
import yaml

from .. import mrcz
from ..fileio import atomic_path
from ..jobs import read_json, write_json
from ..storage.exposure import exposure_from_mdoc, mdoc_path
from ..storage.movies import open_movie
from .figures import plot_gamma_fit
from .fit import (
    GammaFit,
    apply_gamma_gain,
    best_gamma,
    check_orientation,
    fit_gamma_law,
    gain_to_gamma,
    smoothed_spread,
)
from .reference import load_gain, load_readout
from .robust import robust_clip
from .settings import GainSettings, GammaSettings


def sum_movie(path: str | os.PathLike) -> np.ndarray:
    """Sum of a movie's frames (float32), one frame in memory at a time."""
    total = None
    with open_movie(path) as movie:
        for frame in movie.frames():
            total = frame.astype(np.float32) if total is None else total + frame
    return total


def fit_gamma(
    references: Sequence[str],
    gain_path: str | os.PathLike,
    fit_out: str | os.PathLike,
    plot_out: str | os.PathLike,
    *,
    settings: GammaSettings | None = None,
    gain: GainSettings | None = None,
) -> GammaFit:
    """Fit gamma(dose rate) on the vacuum ``references`` (see module doc); write the model and Fig. 9."""
    settings = settings or GammaSettings()
    gain_settings = gain or GainSettings()
    rotate, flip, patch = gain_settings.rotate, gain_settings.flip, settings.patch
    raw_gain = mrcz.read(gain_path).astype(np.float32)
    rates, gammas, plain, corrected = [], [], [], []
    gain = detected = scores = None
    for reference in references:
        exposure = exposure_from_mdoc(mdoc_path(reference))
        if not exposure.dose_rate:
            raise ValueError(f"{reference}: its mdoc gives no DoseRate")
        flat = sum_movie(reference)
        if gain is None:  # any reference tells the orientation: a wrong one doubles the gain pattern
            detected, scores = check_orientation(flat, raw_gain, rotate, flip)
            gain = load_gain(gain_path, flat.shape, rotate, flip)
        gamma, spread = best_gamma(flat, gain, patch)
        rates.append(float(exposure.dose_rate))
        gammas.append(gamma)
        corrected.append(spread)
        plain.append(smoothed_spread(robust_clip(flat), np.log(gain), 1.0, patch))
        print(f"reference {reference}: {rates[-1]:g} e/px/s, gamma {gamma:.4f}", file=sys.stderr, flush=True)
    fit = fit_gamma_law(rates, gammas, allow_fallback=settings.fallback_unity)
    record = fit.as_dict()
    record["orientation"] = {
        "configured": {"rotate": rotate, "flip": flip},
        "best": {"rotate": detected[0], "flip": detected[1]},
        "relative_spread": scores,
    }
    by_rate = sorted(zip(rates, plain, corrected, references, strict=True))
    record["smoothed_spread"] = [
        {"dose_rate": r, "plain_gain": p, "gamma_gain": c, "reference": os.fspath(f)}
        for r, p, c, f in by_rate
    ]
    record["patch"] = patch
    with atomic_path(fit_out) as tmp:
        tmp.write_text(yaml.safe_dump(record, sort_keys=False))
    plot_gamma_fit(fit, plot_out)
    return fit


def apply_gain(
    record_path: str | os.PathLike,
    fit_path: str | os.PathLike,
    gain_path: str | os.PathLike,
    gain_out: str | os.PathLike,
    info_out: str | os.PathLike,
    *,
    gain: GainSettings | None = None,
) -> dict:
    """One stack's gain reference ``gain ** gamma(its dose rate)`` (see module doc) and its record."""
    orientation = gain or GainSettings()
    record = read_json(record_path)
    fit = GammaFit.read(fit_path)
    dose_rate = record.get("dose_rate")
    if not dose_rate:
        raise ValueError(f"stack {record['stack']}: no dose rate known (see dose.source)")
    gamma, warning = fit.gamma(float(dose_rate))
    if warning:
        print(f"warning: {record['stack']}: {warning}", file=sys.stderr, flush=True)
    gain = load_gain(gain_path, tuple(record["shape"][1:]), orientation.rotate, orientation.flip)
    mrcz.write(
        gain_out,
        gain_to_gamma(gain, gamma),
        compression=None,
        voxel_size=record.get("pixel_size") or 0.0,
    )
    info = {
        "stack": record["stack"],
        "dose_rate": dose_rate,
        "gamma": gamma,
        "warning": warning,
        "fallback_gamma_1": fit.fallback,
    }
    write_json(info_out, info)
    return info


def normalise(
    counts_path: str | os.PathLike,
    gain_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    cmos_path: str | os.PathLike | None = None,
) -> dict:
    """Paper Eq. 9 on every frame: ``(counts - I_CMOS) * gain**gamma`` as float32 MRC.

    ``gain_path`` is the stack's own gain reference from :func:`apply_gain`;
    ``cmos_path`` an optional additive pattern (counts/frame, the stack's
    frame shape). Memory: one frame, the gain and the CMOS pattern.
    """
    gain = mrcz.read(gain_path).astype(np.float32)
    cmos = load_readout(cmos_path, gain.shape) if cmos_path else None
    with (
        mrcz.MrczReader(counts_path) as reader,
        mrcz.MrczWriter(
            out, reader.header.shape[1:], np.float32, compression=None, voxel_size=reader.header.voxel_size
        ) as writer,
    ):
        for frame in reader:
            writer.write_frame(apply_gamma_gain(frame, gain, 1.0, cmos))
        frames = reader.n_frames
    return {"frames": frames, "cmos": cmos_path}
