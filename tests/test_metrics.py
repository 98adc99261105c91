"""Quality metrics, each checked on constructed data with a known answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mrczflow.koma.noise import ScaledCorrelation, correlated_noise
from mrczflow.simulate.scores import detection_score, normalisation_error
from mrczflow.storage.entropy import entropy_bound


def test_correlated_noise_matches_pairwise_pearson_and_known_ratio():
    rng = np.random.default_rng(0)
    pattern = rng.normal(0, 0.3, (64, 64))
    frames = np.array([pattern + rng.normal(0, 1, (64, 64)) for _ in range(7)])
    brute = np.mean([np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in itertools.combinations(frames, 2)])
    # float32 frames inside (koma.noise.CorrelationAccumulator): within 1e-7 of the float64 brute force
    assert correlated_noise(frames) == pytest.approx(brute, abs=1e-7)
    assert correlated_noise(frames) == pytest.approx(
        0.09 / 1.09, abs=0.02
    )  # var(pattern)/(var(pattern)+var(noise))
    assert correlated_noise(iter(frames)) == pytest.approx(brute, abs=1e-7)


def float64_correlated_noise(frames: np.ndarray) -> float:
    """Eq. 7 in float64 throughout (the reference the float32 accumulator is held to)."""
    total = 0.0
    for frame in frames:
        z = frame.astype(np.float64).ravel()
        z = z - z.mean()
        total = total + z / np.sqrt(np.dot(z, z))
    return float((np.dot(total, total) - len(frames)) / (len(frames) * (len(frames) - 1)))


def test_correlated_noise_in_float32_holds_on_frames_of_millions_of_pixels():
    """The accumulator works in float32 for speed; on K2-size scored rows (4.7 Mpx, about 1 count a pixel,
    a 0.1% pattern) it stays within 1e-6 of float64 (a float32 BLAS dot would drift by ~2e-5)."""
    rng = np.random.default_rng(3)
    gain = (1 + rng.normal(0, 0.03, (1237, 3838))).astype(np.float32)
    frames = rng.poisson(1.0, (4, 1237, 3838)).astype(np.float32) * gain
    assert correlated_noise(frames) == pytest.approx(float64_correlated_noise(frames), abs=1e-6)


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**31),
    frames=st.integers(2, 6),
    shape=st.tuples(st.integers(4, 40), st.integers(16, 40)),  # 64 px or more, as a frame has
    dose=st.floats(0.05, 20),
    scaled=st.booleans(),
)
def test_scaled_correlation_is_eq7_of_the_products_it_never_forms(seed, frames, shape, dose, scaled):
    """The KOMA step's and the radius curve's accumulator (frames times a per-pixel factor, the products
    never formed) gives Eq. 7 of the products at any dose and shape: within 1e-6 of float64 on frames of a
    few hundred pixels, where float32 rounding does not average out (measured over 400 such stacks: at most
    5.6e-7, and 1.4e-7 for CorrelationAccumulator on the products); on K2-size frames see below."""
    rng = np.random.default_rng(seed)
    factor = rng.uniform(0.7, 1.3, shape).astype(np.float32) if scaled else None
    stack = rng.poisson(dose, (frames, *shape)).astype(np.float32)
    products = stack.astype(np.float64) * (1.0 if factor is None else factor.astype(np.float64))
    accumulator = ScaledCorrelation(factor)
    if any(np.ptp(product) == 0 for product in products):
        with pytest.raises(ValueError, match="constant frame"):
            for frame in stack:
                accumulator.add(frame)
        return
    for frame in stack:
        accumulator.add(frame)
    assert accumulator.value == pytest.approx(float64_correlated_noise(products), abs=1e-6)


def test_scaled_correlation_holds_on_frames_of_millions_of_pixels():
    """On K2-size scored rows, with the square passed in (as the radius curve shares it among its radii)."""
    rng = np.random.default_rng(4)
    factor = (1 + rng.normal(0, 0.03, (1237, 3838))).astype(np.float32)
    frames = rng.poisson(1.0 / factor, (4, 1237, 3838)).astype(np.float32)
    accumulator = ScaledCorrelation(factor)
    for frame in frames:
        accumulator.add(frame, np.square(frame))
    expected = float64_correlated_noise(frames.astype(np.float64) * factor)
    assert accumulator.value == pytest.approx(expected, abs=1e-8)


def test_scaled_correlation_refuses_what_has_no_value():
    with pytest.raises(ValueError, match="constant frame"):
        ScaledCorrelation(np.full((4, 4), 2.0)).add(np.full((4, 4), 3.0))
    with pytest.raises(ValueError, match="constant frame"):
        ScaledCorrelation().add(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="NaN or infinity"):
        ScaledCorrelation(np.ones((4, 4))).add(np.where(np.eye(4) > 0, np.nan, 1.0))
    with pytest.raises(ValueError, match="factor of"):
        ScaledCorrelation(np.ones((4, 4))).add(np.ones((4, 5)))
    one = ScaledCorrelation()
    one.add(np.arange(16.0).reshape(4, 4))
    with pytest.raises(ValueError, match="at least two frames"):
        _ = one.value


def test_correlated_noise_limits():
    rng = np.random.default_rng(1)
    frame = rng.normal(size=(32, 32))
    assert correlated_noise([frame, frame, frame]) == pytest.approx(1.0)
    independent = rng.normal(size=(10, 128, 128))
    assert abs(correlated_noise(independent)) < 3 / 128
    with pytest.raises(ValueError):
        correlated_noise([frame])
    with pytest.raises(ValueError):
        correlated_noise([frame, np.zeros_like(frame)])


def test_detection_score():
    truth = np.zeros((10, 10), bool)
    truth[0, :4] = True
    predicted = np.zeros_like(truth)
    predicted[0, 1:6] = True  # 3 right, 2 wrong, 1 missed
    score = detection_score(predicted, truth)
    assert (score.true_positives, score.false_positives, score.false_negatives) == (3, 2, 1)
    assert score.precision == pytest.approx(3 / 5) and score.recall == pytest.approx(3 / 4)
    assert score.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert detection_score(np.zeros_like(truth), np.zeros_like(truth)).f1 == 1.0
    with pytest.raises(ValueError):
        detection_score(predicted, truth[:5])


def test_normalisation_error():
    rng = np.random.default_rng(2)
    gain = rng.uniform(0.8, 1.2, (50, 50))
    assert normalisation_error(1 / gain, gain) == pytest.approx(0.0, abs=1e-12)
    assert normalisation_error(2.5 / gain, gain) == pytest.approx(0.0, abs=1e-12)  # scale does not matter
    off = np.ones((50, 50))
    off[:, 25:] = 1.1
    assert normalisation_error(off / gain, gain) == pytest.approx(0.05 / 1.05, rel=1e-6)
    valid = np.ones((50, 50), bool)
    valid[:, 25:] = False
    assert normalisation_error(off / gain, gain, valid) == pytest.approx(0.0, abs=1e-12)


def test_entropy_bound():
    bound = entropy_bound(np.array([5, 5, 5, 5]))
    assert bound.bits_per_pixel == pytest.approx(2.0) and bound.best_ratio == pytest.approx(4.0)
    assert entropy_bound(np.array([0, 9, 0])).best_ratio == float("inf")
    k = np.arange(60)
    pmf = stats.poisson.pmf(k, 1.0)
    expected_bits = stats.poisson.entropy(1.0) / np.log(2)
    assert entropy_bound(pmf * 1e9).bits_per_pixel == pytest.approx(expected_bits, rel=1e-6)
    assert entropy_bound(pmf * 1e9).best_ratio == pytest.approx(
        4.25, abs=0.01
    )  # SPEC's table at 1 e/px/frame
    with pytest.raises(ValueError):
        entropy_bound(np.zeros(3))
