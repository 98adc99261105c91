"""Gamma-corrected gain against the simulator's known gamma(delta) (issue 6)."""

from __future__ import annotations

import numpy as np
import pytest

from mrczflow import mrcz
from mrczflow.gain.fit import (
    GammaFit,
    GammaFitError,
    apply_gamma_gain,
    best_gamma,
    check_orientation,
    fit_gamma_law,
    robust_clip,
    smoothed_spread,
)
from mrczflow.gain.reference import orient
from mrczflow.gain.steps import sum_movie
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate

RATES = SessionConfig().flat_dose_rates


@pytest.fixture(scope="module", params=[1, 2])
def references(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"refs{request.param}")
    simulate(out, SessionConfig(seed=request.param), DetectorConfig(shape=(512, 512)), movies=False)
    flats = [sum_movie(out / "references" / "movies" / f"flat_{r:g}.mrc") for r in RATES]
    gain = mrcz.read(out / "references" / "gain_vendor.mrc")
    return flats, gain, Truth(out / "truth" / "references.npz")


def test_recovered_law_within_002_of_truth_over_the_range(references):
    flats, gain, truth = references
    fit = fit_gamma_law(RATES, [best_gamma(flat, gain)[0] for flat in flats])
    grid = np.linspace(0.25, 9, 300)
    assert np.abs(fit.law(grid) - truth.gamma(grid)).max() < 0.02
    assert all(np.isfinite(v) and v > 0 for v in fit.uncertainty.values())
    assert fit.valid_range == (0.25, 9.0)


def test_gamma_flattens_better_than_plain_gain_off_the_reference_rate(references):
    flats, gain, truth = references
    log_gain = np.log(gain)
    for rate, flat in zip(RATES, flats, strict=True):
        clean = robust_clip(flat)
        gamma, with_gamma = best_gamma(flat, gain)
        plain = smoothed_spread(clean, log_gain, 1.0)
        if abs(truth.gamma(rate) - 1) > 0.02:
            assert with_gamma < plain, f"dose rate {rate}"
        assert with_gamma <= plain + 1e-9


def test_rotated_or_flipped_gain_is_detected(references):
    flats, gain, _ = references
    flat = flats[-1]
    best, scores = check_orientation(flat, gain, 0, "none")
    assert best == (0, "none") and len(scores) == 8
    for rotate in (0, 90, 180, 270):
        for flip in ("none", "y"):
            stored = np.ascontiguousarray(orient(gain, rotate, flip))
            if (rotate, flip) == (0, "none"):
                continue
            with pytest.raises(GammaFitError, match="disagrees with the references"):
                check_orientation(flat, stored, 0, "none")
            fix, _ = check_orientation(flat, stored, *_found(flat, stored))
            assert np.array_equal(orient(stored, *fix), gain)


def _found(flat, stored):
    try:
        check_orientation(flat, stored, 0, "none")
    except GammaFitError as exc:
        words = str(exc).split("references: rotate ")[1].split(",")
        return int(words[0]), words[1].split()[1]
    return 0, "none"


def test_too_few_references_refused_unless_fallback():
    with pytest.raises(GammaFitError, match="3 distinct reference dose rates; Eq. 11 needs at least 5"):
        fit_gamma_law([1, 2, 4], [1.1, 1.0, 0.9])
    fit = fit_gamma_law([1, 2, 4], [1.1, 1.0, 0.9], allow_fallback=True)
    assert fit.fallback and fit.gamma(3.0) == (1.0, None)
    with pytest.raises(GammaFitError, match="did not converge|undetermined"):
        fit_gamma_law([1, 2, 3, 4, 5], [np.nan, 1, 1, 1, 1])


def test_out_of_range_warning_and_record_round_trip():
    fit = fit_gamma_law([0.5, 1, 2, 4, 8], [1.27, 1.13, 1.03, 0.93, 0.80])
    gamma, warning = fit.gamma(12.0)
    assert warning and "outside the fitted range 0.5-8" in warning and gamma == pytest.approx(fit.law(12.0))
    assert fit.gamma(3.0)[1] is None
    again = GammaFit.from_dict(fit.as_dict())
    assert again.law == fit.law and again.valid_range == fit.valid_range


def test_eq9_with_cmos_term():
    frame = np.array([[4, 9]], np.uint8)
    gain = np.array([[1.5, 0.5]], np.float32)
    cmos = np.array([[1.0, 0.0]], np.float32)
    out = apply_gamma_gain(frame, gain, 0.8, cmos)
    assert out.dtype == np.float32 and np.allclose(out, [[3 * 1.5**0.8, 9 * 0.5**0.8]])
