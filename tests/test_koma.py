"""KOMA library (issue 7): windows, exact knock-out sums, the denoised correction, the contrast screen."""

from __future__ import annotations

import numpy as np
import pytest

from mrczflow import koma
from mrczflow.koma import prefix_sums, window, window_sum, windows_changed_by_append
from mrczflow.koma.noise import correlated_noise


@pytest.mark.parametrize("radius", [1, 3, 12])
def test_window_holds_2a_others_and_is_shifted_at_the_ends(radius):
    n = 40
    for i in range(n):
        lo, hi = window(i, n, radius)
        assert hi - lo == 2 * radius + 1 and lo <= i < hi and lo >= 0 and hi <= n
        if radius <= i < n - radius:
            assert (lo, hi) == (i - radius, i + radius + 1)  # centred away from the ends
    assert window(0, n, radius) == (0, 2 * radius + 1)
    assert window(n - 1, n, radius) == (n - 2 * radius - 1, n)
    with pytest.raises(ValueError, match="needs at least"):
        window(0, 2 * radius, radius)


def test_prefix_terms_equal_the_brute_force_knock_out_mean():
    rng = np.random.default_rng(0)
    sums = [rng.poisson(30, (16, 16)).astype(np.uint32) for _ in range(15)]
    prefixes = prefix_sums(sums)
    for radius in (1, 4, 7):
        for i in range(len(sums)):
            lo, hi = window(i, len(sums), radius)
            total = window_sum(prefixes[lo] if lo else None, prefixes[hi], sums[i])
            others = [sums[j].astype(np.int64) for j in range(lo, hi) if j != i]
            assert len(others) == 2 * radius
            assert np.array_equal(total, np.sum(others, axis=0))
    with pytest.raises(TypeError):
        prefix_sums([np.zeros((2, 2), np.float32)])


def test_appending_a_stack_changes_only_the_last_windows():
    for radius in (1, 5, 12):
        n = 60
        changed = windows_changed_by_append(n, radius)
        assert changed == list(range(n - radius, n))  # the last a stacks; all others keep their inputs


def test_prefixes_wrap_modulo_2_32_and_windows_stay_exact():
    """A long session overflows int32 prefixes; differences of them are still exact."""
    big = np.full((4, 4), 2**30 - 7, np.int64)
    sums = [big + k for k in range(9)]
    prefixes = prefix_sums(sums)
    assert prefixes[-1].dtype == np.int32
    assert np.array_equal(window_sum(prefixes[5], prefixes[8], sums[6]), sums[5] + sums[7])
    assert np.array_equal(window_sum(None, prefixes[3], None), sums[0] + sums[1] + sums[2])


def session(pattern, n_stacks=21, frames=10, dose=2.0, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.poisson(dose * (1 + pattern), (frames, *pattern.shape)) for _ in range(n_stacks)]


def fixed_pattern(shape=(96, 96), seed=0):
    """A detector-like pattern: low-frequency sweeps (strong) plus per-pixel sensitivity (weak)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    return 0.15 * np.sin((x + y) / 9.0) + rng.normal(0, 0.01, shape)


@pytest.mark.parametrize("form", koma.FORMS)
def test_correction_removes_a_fixed_pattern_and_keeps_the_dose(form):
    stacks = session(fixed_pattern())
    sums = [s.sum(axis=0) for s in stacks]
    prefixes = prefix_sums(sums)
    i, radius = 10, 8
    lo, hi = window(i, len(stacks), radius)
    fix = koma.correction(
        window_sum(prefixes[lo], prefixes[hi], sums[i]), 2 * radius, 2 * radius * 10, form=form
    )
    raw = stacks[i].astype(np.float32)
    corrected = np.array([fix.apply(f) for f in stacks[i]])
    assert correlated_noise(raw) > 0.02
    assert abs(correlated_noise(corrected)) < correlated_noise(raw) / 10
    assert corrected.mean() == pytest.approx(raw.mean(), rel=0.01)


def test_denoising_the_term_beats_the_raw_term_when_the_window_is_short():
    """The raw term stamps its own shot noise on every frame (about 1/(2aF)); the Wiener term does not."""
    stacks = session(fixed_pattern(), n_stacks=5, frames=20)
    sums = [s.sum(axis=0) for s in stacks]
    prefixes = prefix_sums(sums)
    scores = {}
    for denoise in (False, True):
        values = []
        for i in range(len(stacks)):
            lo, hi = window(i, len(stacks), 1)
            fix = koma.correction(window_sum(prefixes[lo], prefixes[hi], sums[i]), 2, 40, denoise=denoise)
            values.append(correlated_noise(fix.apply(f) for f in stacks[i]))
        scores[denoise] = np.mean(values)
    assert scores[False] > 1 / (2 * 20) / 2  # the raw term's own noise, ~0.025
    assert scores[True] < scores[False] / 3


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_read_out_lines_of_one_half_are_kept_without_putting_noise_lines_in_the_other(seed):
    """Horizontal read-out lines on the right half only (1% per row): KOMA keeps them there, and the window's
    noise no longer comes out as lines on the left half (measured: row-mean error 0.0011 on the left before
    half lines were filtered apart from the 2-D pattern, 0.0002 after; overall 0.0023 -> 0.0009)."""
    from mrczflow.koma.correction import Spread

    rng = np.random.default_rng(seed)
    shape, dose = (256, 256), 500.0
    lines = np.zeros(shape)
    lines[:, 128:] = rng.normal(0, 0.01, 256)[:, None]
    lines -= lines.mean()
    spread, total = Spread.empty(shape), np.zeros(shape, np.int64)
    for k in range(1, 13):
        image = rng.poisson(dose * (1 + lines)).astype(np.int64)
        total += image
        spread.add(image, k % 2, float(k))
    error = koma.correction(total, 12, 480, spread=spread).pattern - lines
    left, right = error[:, :128], error[:, 128:]
    assert left.mean(axis=1).std() < 0.0005 and left.std() < 0.0015
    assert right.mean(axis=1).std() < 0.2 * 0.01  # the lines themselves are kept


def test_gain_reference_reproduces_the_divide_form_exactly():
    rng = np.random.default_rng(3)
    gain = rng.uniform(0.8, 1.2, (32, 32)).astype(np.float32)
    total = rng.poisson(400, (32, 32))
    fix = koma.correction(total, 4, 40, gain, form="divide")
    frame = rng.poisson(2, (32, 32))
    assert np.allclose(fix.apply(frame), frame * fix.gain_reference(), rtol=1e-5)


def test_a_window_of_excluded_stacks_only_is_refused():
    with pytest.raises(ValueError, match="every neighbour is excluded"):
        koma.correction(np.ones((8, 8), np.int64), 0, 0)
    with pytest.raises(ValueError, match="form"):
        koma.correction(np.ones((8, 8), np.int64), 2, 2, form="multiply")


def test_contrast_screen_separates_carbon_and_crystalline_ice_from_particles(tmp_path):
    from mrczflow import mrcz
    from mrczflow.simulate import DetectorConfig, SessionConfig, simulate

    simulate(
        tmp_path,
        SessionConfig(n_stacks=6, n_frames=10, carbon_stacks=(1,), crystalline_stacks=(4,), seed=2),
        DetectorConfig(shape=(192, 192)),
        references=False,
    )
    values = [
        koma.contrast(mrcz.read(tmp_path / "movies" / f"stack_{i:04d}.mrc").sum(axis=0, dtype=np.int64))
        for i in range(6)
    ]
    high = [v > 0.08 for v in values]
    assert high == [False, True, False, False, True, False], values
