"""Quality metrics, each checked on constructed data with a known answer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from mrczflow.koma.noise import HalfSums, correlated_noise, half_correlation
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
    frames=st.integers(2, 9),
    pattern=st.floats(0.0, 3.0),
    seed=st.integers(0, 2**31),
)
def test_half_correlation_is_eq7_when_every_pair_correlates_alike(frames, pattern, seed):
    """Frames that share one pattern, each with its own noise of one norm, all orthogonal: every pair
    correlates as pattern^2 / (pattern^2 + 1). The half sums' estimate (koma.noise.half_correlation) is then
    Eq. 7 itself, at any number of frames, odd or even."""
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(64, frames + 1))
    basis -= basis.mean(axis=0)  # centred: each frame's mean is its offset alone
    q, _ = np.linalg.qr(basis)
    stack = np.array([7.0 + pattern * q[:, 0] + q[:, i + 1] for i in range(frames)])
    exact = pattern**2 / (pattern**2 + 1)
    assert float64_correlated_noise(stack) == pytest.approx(exact, abs=1e-12)
    halves = HalfSums.of(stack[0::2].sum(axis=0), stack[1::2].sum(axis=0), frames)
    assert halves.correlation() == pytest.approx(exact, abs=1e-12)
    scaled = halves.correlation(lambda total, n: 3.0 * total - n)  # a scale and an offset change nothing
    assert scaled == pytest.approx(exact, abs=1e-12)


def test_half_correlation_agrees_with_eq7_on_simulated_stacks_within_their_noise():
    """On simulated K2 stacks (particles that drift, 0.8 px a frame settling, and the detector's own
    pattern; 40 frames of 256 x 256), the estimate from the halves is Eq. 7 within the two's shot noise
    (measured 0.2-2.2e-4 apart over these seeds, the values 3.1-3.5e-3); and 0 within it on pure shot noise."""
    from mrczflow.simulate import DetectorConfig

    from .test_simulator import one_stack

    config = DetectorConfig(
        shape=(256, 256), hot_fraction_start=0, hot_fraction_end=0, dead_fraction_start=0, dead_fraction_end=0
    )
    for seed in (0, 10, 20):
        simulation = one_stack(
            config,
            seed,
            dose_rate=4.0,
            frame_time=0.25,
            n_frames=40,
            specimen="particles",
            particle_radius=12.0,
            drift_speed=0.8,
        )
        frames = np.array(list(simulation.frames()), np.float64)
        exact = correlated_noise(frames)
        halves = HalfSums.of(frames[0::2].sum(axis=0), frames[1::2].sum(axis=0), len(frames))
        assert exact > 0.002 and halves.correlation() == pytest.approx(exact, abs=6e-4)
    noise = np.random.default_rng(5).poisson(2.0, (30, 256, 256)).astype(np.float64)
    assert abs(HalfSums.of(noise[0::2].sum(axis=0), noise[1::2].sum(axis=0), 30).correlation()) < 6e-4


def test_half_correlation_refuses_what_has_no_value():
    with pytest.raises(ValueError, match="constant frames"):
        half_correlation(np.full((4, 4), 2.0), np.full((4, 4), 3.0), 2, 2)
    with pytest.raises(ValueError, match="NaN or infinity"):
        half_correlation(np.where(np.eye(4) > 0, np.nan, 1.0), np.ones((4, 4)), 1, 1)
    with pytest.raises(ValueError, match="one shape"):
        half_correlation(np.ones((4, 4)), np.ones((4, 5)), 1, 1)
    with pytest.raises(ValueError, match="at least two frames"):
        half_correlation(np.ones((4, 4)), np.ones((4, 4)), 1, 0)
    with pytest.raises(ValueError, match="at least two frames"):
        HalfSums.of(np.arange(16.0), np.zeros(16), 1).correlation()


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
