"""Per-stack outlier filter (issue 5, in progress).

The science test below asserts today's measured performance as a regression
floor (see benchmarks/bench_outliers.py); it is not issue 5's targets, which
are not all met yet (recall at 0.25 e/px/frame, F1 margin and correlated-noise
reduction at 4 e/px/frame).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrczflow import mrcz, outliers
from mrczflow.koma.noise import correlated_noise
from mrczflow.outliers.steps import outliers as outlier_step
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate
from mrczflow.simulate.scores import baseline_mask, detection_score

K2_FRACTION = 5500 / (3838 * 3710)


def simulated(tmp_path, *, rate=4.0, frame_time=0.25, frames=20, size=256, seed=1, **detector):
    session = SessionConfig(
        n_stacks=1,
        n_frames=frames,
        dose_rate=rate,
        frame_time=frame_time,
        dose_rate_jitter=0,
        seed=seed,
        carbon_stacks=detector.pop("carbon", ()),
    )
    simulate(tmp_path, session, DetectorConfig(shape=(size, size), **detector), references=False)
    return mrcz.read(tmp_path / "movies" / "stack_0000.mrc"), Truth(tmp_path / "truth" / "session.npz")


def hot_score(stack, truth):
    detection = outliers.detect(outliers.stack_sum(stack))
    true_outliers, ambiguous = truth.outlier_masks(0)
    care = ~ambiguous & ~truth.dead_mask(0)
    hot_truth = true_outliers & ~truth.dead_mask(0)
    return detection, detection_score((detection.flags & outliers.HOT > 0)[care], hot_truth[care])


@pytest.mark.parametrize(
    ("dose", "rate", "frame_time", "min_recall"),
    [(0.25, 1.0, 0.25, 0.78), (1.0, 4.0, 0.25, 0.92), (4.0, 4.0, 1.0, 0.97)],
)
def test_regression_floor_against_truth_and_baseline(tmp_path, dose, rate, frame_time, min_recall):
    stack, truth = simulated(tmp_path, rate=rate, frame_time=frame_time, size=512)
    detection, ours = hot_score(stack, truth)
    true_outliers, ambiguous = truth.outlier_masks(0)
    care = ~ambiguous & ~truth.dead_mask(0)
    base = detection_score(
        baseline_mask(outliers.stack_sum(stack))[care], (true_outliers & ~truth.dead_mask(0))[care]
    )
    # Calibrated at 1e-5 false alarms per clean pixel: on 512 x 512 a few false flags (and pixels next
    # to a hot pixel whose real excess is under the truth's 2.5-sigma "ambiguous" floor) are expected.
    assert ours.precision >= 0.88 and ours.recall >= min_recall
    assert ours.f1 >= base.f1 + 0.03
    normalised = stack.astype(np.float32) * truth.vendor_gain
    after = correlated_noise(np.array(list(outliers.filtered_frames(normalised, detection.flags))))
    assert after < correlated_noise(normalised) / 1.8


@pytest.mark.parametrize("case", ["carbon", "almost_none", "mostly_outliers", "dose_0.1", "super_resolution"])
def test_robust_cases_neither_crash_nor_mask_half_the_image(tmp_path, case):
    options = {
        "carbon": {"carbon": (0,)},
        "almost_none": {"hot_fraction_start": 3e-5, "hot_fraction_end": 3e-5},
        "mostly_outliers": {"hot_fraction_start": 0.05, "hot_fraction_end": 0.05},
        "dose_0.1": {"rate": 0.4},
        "super_resolution": {"hot_fraction_start": 10 * K2_FRACTION, "hot_fraction_end": 10 * K2_FRACTION},
    }[case]
    stack, truth = simulated(tmp_path, **options)
    detection, score = hot_score(stack, truth)
    masked = detection.mask.mean()
    assert masked < 0.5
    strong = truth.stack(0).hot_indices[truth.stack(0).hot_rates >= 4]
    found = detection.mask.reshape(-1)[strong].mean() if strong.size else 1.0
    assert found >= 0.9, f"{case}: found {found:.2f} of the strong hot pixels"
    if case in ("carbon", "almost_none", "dose_0.1"):
        assert score.false_positives <= 0.002 * stack[0].size, f"{case}: {score.false_positives} false alarms"


def test_fill_singletons_by_psf_and_clusters_by_clean_mean():
    frame = np.full((20, 20), 10.0, np.float32)
    frame[5, 5] = 200
    frame[12, 12] = frame[12, 13] = 300
    frame[11, 11] = 4.0  # a clean neighbour of the cluster, to tell the 5x5 mean from the PSF
    flags = np.zeros((20, 20), np.uint8)
    flags[5, 5] = flags[12, 12] = flags[12, 13] = outliers.HOT
    flags[12, 12] |= outliers.CLUSTERED
    flags[12, 13] |= outliers.CLUSTERED
    filled = next(outliers.filtered_frames(frame[np.newaxis], flags))
    assert filled[5, 5] == pytest.approx(10.0)  # PSF-weighted mean of equal neighbours
    clean = [frame[y, x] for y in range(10, 15) for x in range(10, 15) if not flags[y, x]]
    assert filled[12, 12] == pytest.approx(np.mean(clean))
    assert filled[0, 0] == 10.0 and filled[11, 11] == 4.0


def test_step_writes_mask_defects_and_stats(tmp_path):
    from mrczflow.storage.sums import write_stack_sum

    stack, _ = simulated(tmp_path, size=128, frames=10)
    write_stack_sum(tmp_path / "s.mrcz", stack.sum(axis=0), stack="s", frames=len(stack))
    stats = outlier_step(
        tmp_path / "s.mrcz", tmp_path / "m.mrcz", tmp_path / "d.txt", tmp_path / "s.json", stack="s"
    )
    flags = mrcz.read(tmp_path / "m.mrcz")
    assert flags.dtype == np.uint8 and flags.shape == stack.shape[1:]
    lines = (tmp_path / "d.txt").read_text().splitlines()
    assert len(lines) == stats["hot"] + stats["dead"] == int((flags & 3 > 0).sum())
    x, y, w, h = map(int, lines[0].split())
    assert (w, h) == (1, 1) and flags[y, x] & 3
    assert json.loads((tmp_path / "s.json").read_text())["hot"] == stats["hot"]


@settings(max_examples=40, deadline=None)
@given(
    by=st.integers(3, 40),
    bx=st.integers(3, 40),
    block=st.integers(1, 40),
    extra_y=st.integers(0, 39),
    extra_x=st.integers(0, 39),
    seed=st.integers(0, 2**31),
)
def test_the_background_level_is_scipy_s_bilinear_zoom_to_float32_rounding(
    by, bx, block, extra_y, extra_x, seed
):
    """The two-pass upsampling of the background gives what ndimage.zoom(order=1, grid_mode) gave, any shape."""
    from scipy import ndimage

    from mrczflow.outliers.detect import _bilinear

    shape = (by * block + extra_y % block, bx * block + extra_x % block) if block > 1 else (by, bx)
    blocks = np.random.default_rng(seed).uniform(1, 100, (by, bx))
    zoomed = ndimage.zoom(blocks, (shape[0] / by, shape[1] / bx), order=1, mode="nearest", grid_mode=True)
    assert np.allclose(_bilinear(blocks, shape), zoomed[: shape[0], : shape[1]], rtol=2e-6, atol=0)


@pytest.mark.parametrize("with_gain", [False, True])
def test_detection_holds_few_frame_sized_images_at_once(with_gain):
    """Frame-sized images are let go when done with (the flattened sum, the per-pixel limits, the
    obvious outliers, the gain's inverse) and the line test's variance images are made in place: the
    peak detection allocates stays below 12 float32 frames (it was 14.0 without a gain and 18.0 with one;
    the outliers job on a K2 sum went from 921 to 685 MB)."""
    import tracemalloc

    rng = np.random.default_rng(2)
    shape = (1030, 1100)
    total = rng.poisson(40.0, shape).astype(np.int32)
    total[rng.integers(0, shape[0], 200), rng.integers(0, shape[1], 200)] += 400
    gain = rng.uniform(0.9, 1.1, shape).astype(np.float32) if with_gain else None
    outliers.detect(total[:256, :256])  # what it imports on first use is not the detection's to count
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        found = outliers.detect(total, gain=gain)
        frames = (tracemalloc.get_traced_memory()[1] - start) / (4 * total.size)
    finally:
        tracemalloc.stop()
    assert frames < 13.5, frames  # measured 9.8 and 11.8
    assert 190 <= int((found.flags & outliers.HOT > 0).sum()) <= 230  # the 200 planted (some fall together)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 200), st.integers(1, 90), st.booleans(), st.integers(0, 2**31))
def test_block_sums_equal_those_of_the_padded_frame(n_along, n_lines, transposed, seed):
    """The segment search's block sums pad only the last block: bit for bit those of the whole frame padded."""
    from mrczflow.outliers.lines import OFFSET_BLOCK, _block_sums

    rng = np.random.default_rng(seed)
    frame = rng.normal(0, 100, (n_lines, n_along) if transposed else (n_along, n_lines)).astype(np.float32)
    values = frame.T if transposed else frame  # (along, lines), as the rows' search passes its transpose
    pad = (-n_along) % OFFSET_BLOCK
    if transposed:
        padded = np.pad(frame, ((0, 0), (0, pad)))
        expected = padded.reshape(n_lines, -1, OFFSET_BLOCK).sum(axis=2, dtype=np.float64).T
    else:
        padded = np.pad(frame, ((0, pad), (0, 0)))
        expected = padded.reshape(-1, OFFSET_BLOCK, n_lines).sum(axis=1, dtype=np.float64)
    assert np.array_equal(_block_sums(values, pad), expected)


def test_obvious_outliers_are_the_expressions():
    """|total - expected| > 6 sqrt(expected) + 1, in place: the same pixels as the expression's own temporaries."""
    from mrczflow.outliers.detect import _beyond

    rng = np.random.default_rng(3)
    expected = rng.uniform(0.01, 50, (300, 257)).astype(np.float32)
    total = rng.poisson(expected * rng.uniform(0.2, 3, expected.shape)).astype(np.int32)
    reference = np.abs(total - expected) > 6 * np.sqrt(expected) + 1
    assert reference.any() and not reference.all()
    assert np.array_equal(_beyond(total, expected, 6), reference)


@settings(max_examples=40, deadline=None)
@given(ny=st.integers(2, 41), nx=st.integers(2, 41), seed=st.integers(0, 2**16))
def test_a_read_out_reference_made_of_half_lines_is_kept_exactly(ny, nx, seed):
    """Any pattern of half-row and half-column offsets, odd sizes too, is what readout_lines gives back."""
    from mrczflow.outliers.lines import expand_offsets, readout_lines

    rng = np.random.default_rng(seed)
    pattern = expand_offsets(rng.normal(0, 1, (ny, 2)), rng.normal(0, 1, (2, nx)))
    assert np.allclose(expand_offsets(*readout_lines(pattern)), pattern, atol=1e-5)
