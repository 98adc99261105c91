"""KOMA core (issue 7 groundwork): windows, exact knock-out means, cost independent of the radius."""

from __future__ import annotations

import numpy as np
import pytest

from mrczflow.koma import (
    divide_pattern,
    koma_term,
    prefix_sums,
    subtract_pattern,
    window,
    windows_changed_by_append,
)
from mrczflow.metrics import correlated_noise


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
            term = koma_term(prefixes[lo], prefixes[hi], sums[i], radius)
            others = [sums[j].astype(np.float64) for j in range(lo, hi) if j != i]
            assert len(others) == 2 * radius
            assert np.allclose(term, np.mean(others, axis=0), rtol=0, atol=1e-4)
    with pytest.raises(TypeError):
        prefix_sums([np.zeros((2, 2), np.float32)])


def test_appending_a_stack_changes_only_the_last_windows():
    for radius in (1, 5, 12):
        n = 60
        changed = windows_changed_by_append(n, radius)
        assert changed == list(range(n - radius, n))  # the last a stacks; all others keep their inputs


def test_subtracting_the_term_removes_a_fixed_pattern_and_keeps_the_dose():
    rng = np.random.default_rng(1)
    pattern = rng.normal(0, 0.15, (64, 64))
    n_stacks, frames, dose = 21, 10, 2.0
    stacks = [rng.poisson(dose * (1 + pattern), (frames, 64, 64)) for _ in range(n_stacks)]
    sums = [s.sum(axis=0).astype(np.int64) for s in stacks]
    prefixes = prefix_sums(sums)
    i, radius = 10, 8
    lo, hi = window(i, n_stacks, radius)
    term = koma_term(prefixes[lo], prefixes[hi], sums[i], radius)
    raw = stacks[i].astype(np.float32)
    subtracted = np.array([subtract_pattern(f, term, frames) for f in stacks[i]])
    divided = np.array([divide_pattern(f, term) for f in stacks[i]])
    assert correlated_noise(raw) > 0.02
    assert abs(correlated_noise(subtracted)) < correlated_noise(raw) / 5
    assert abs(correlated_noise(divided)) < correlated_noise(raw) / 5
    assert subtracted.mean() == pytest.approx(raw.mean(), rel=1e-6)
