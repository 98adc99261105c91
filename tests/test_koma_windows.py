"""KOMA windows on a real session (issue 18): spares that top a window up, the window's measured
noise, the straight-edge screen and the fixed-pattern DQE loss."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrczflow import koma
from mrczflow.koma.correction import Spread
from mrczflow.koma.noise import HalfSums, fast_shape, fixed_pattern_loss
from mrczflow.koma.screen import edge_block, edge_strength
from mrczflow.koma.settings import KomaSettings
from mrczflow.koma.steps import koma_sum, read_sum, window_correction
from mrczflow.koma.windows import window_half
from mrczflow.storage.sums import write_stack_sum

from .koma_images import smooth


@given(st.data())
def test_spares_widen_a_window_around_the_same_stacks(data):
    n = data.draw(st.integers(3, 80))
    radius = data.draw(st.integers(1, (n - 1) // 2))
    spare = data.draw(st.integers(0, 6))
    index = data.draw(st.integers(0, n - 1))
    lo, hi = koma.window(index, n, radius)
    wide_lo, wide_hi = koma.window(index, n, radius, spare)
    assert wide_lo <= lo and hi <= wide_hi and wide_lo <= index < wide_hi
    assert wide_hi - wide_lo == min(2 * (radius + spare) + 1, n)
    assert koma.window(index, n, radius, 0) == (lo, hi)


def test_the_window_s_halves_keep_its_specimen_out_of_the_pattern():
    """Each stack has its own low-frequency ice (2%), the detector a weak pattern of its own (0.3%): the
    mean of 12 stacks still carries ice (0.6%) that is not the detector's. With shot noise only that is
    stamped on the stack as if it were the pattern, worse than no correction; measured on the window's
    halves it is noise, and the correction is no worse than none."""
    rng = np.random.default_rng(4)
    shape, dose = (128, 128), 2000.0  # counts a pixel per stack: shot noise far below the ice
    detector = 0.003 * smooth(shape, 12, rng)
    sums, spread = [], Spread.empty(shape)
    for k in range(12):
        ice = 0.02 * smooth(shape, 12, rng)
        sums.append(rng.poisson(dose * (1 + detector) * (1 + ice)).astype(np.int64))
        spread.add(sums[-1], k % 2)
    total = np.sum(sums, axis=0)

    def error(fix):
        return float(np.std(fix.pattern - (detector - detector.mean())))

    shot_only = error(koma.correction(total, 12, 12 * 40))
    halves = error(koma.correction(total, 12, 12 * 40, spread=spread))
    none = float(detector.std())  # the error of no correction at all
    assert shot_only > 1.5 * none, (shot_only, none)
    assert halves < 1.02 * none, (halves, none)


@pytest.mark.parametrize("radius", [1, 2, 3, 12])
def test_a_symmetric_window_is_split_evenly_and_alternately(radius):
    """The halves alternate in acquisition order across the corrected stack; by the parity of the place
    alone both neighbours of a radius-1 window went to one half, and the window had no measured noise."""
    places = [*range(-radius, 0), *range(1, radius + 1)]
    halves = [window_half(place) for place in places]
    assert halves.count(0) == halves.count(1) == radius
    assert all(a != b for a, b in zip(halves, halves[1:], strict=False))


def test_a_radius_1_window_measures_its_two_stacks_specimen_as_noise(tmp_path):
    """The stacks either side of the corrected one (as the report's radius curve makes radius 1), each with
    its own ice: the window's halves, one stack each, measure the ice as noise. With both in one half the
    filter saw shot noise only and stamped the ice on the stack (on the K2 bench: 8x the correlated noise
    of no correction, where the fix brings it 7x below). One difference is a rough measure: the pattern
    stays worse than none here, but by far less."""
    rng = np.random.default_rng(4)
    shape, dose = (128, 128), 2000.0
    detector = 0.003 * smooth(shape, 12, rng)
    images = [rng.poisson(dose * (1 + detector) * (1 + 0.02 * smooth(shape, 12, rng))) for _ in range(3)]
    paths = write_session(tmp_path, images)
    fix, info = window_correction(paths[1], paths)
    assert info["window_places"] == {"stack_0000": -1.0, "stack_0002": 1.0}

    def error(pattern):
        return float(np.std(pattern - (detector - detector.mean())))

    shot_only = error(koma.correction(images[0] + images[2], 2, 80).pattern)
    assert error(fix.pattern) < shot_only / 2, (error(fix.pattern), shot_only)


def test_the_halves_measure_shot_noise_where_that_is_all_there_is():
    rng = np.random.default_rng(5)
    shape, n, dose = (96, 96), 10, 50.0
    spread = Spread.empty(shape)
    for k in range(n):
        spread.add(rng.poisson(dose, shape), k % 2)
    measured = float(np.mean(spread.difference() ** 2))
    assert measured == pytest.approx(1 / (n * dose), rel=0.1)  # the variance of the mean relative image
    assert Spread([1, 0], [np.ones(shape, np.float32), np.zeros(shape, np.float32)]).difference() is None


@pytest.mark.parametrize("shape", [(256, 256), (251, 263)])  # primes: cropped to the fast (250, 256)
def test_fixed_pattern_loss_is_the_pattern_s_share_of_the_sum_s_power(shape):
    assert fast_shape(shape) == ((250, 256) if shape[0] == 251 else shape)
    assert fast_shape((3710, 3838)) == (3645, 3750)  # a K2 frame: 3838 = 2 x 19 x 101
    rng = np.random.default_rng(6)
    frames, dose, amplitude = 40, 2.0, 0.05  # shot noise spreads the loss by ~2/256
    pattern = 1 + amplitude * rng.normal(size=shape)
    halves = HalfSums()
    for _ in range(frames):
        halves.add(rng.poisson(dose * pattern))
    # Mean frames of 20: the pattern is dose x amplitude in each; the difference's noise is 2 dose / 20.
    fixed, noise = np.var(dose * pattern), 2 * dose / (frames / 2)
    assert halves.loss() == pytest.approx(4 * fixed / (4 * fixed + noise), abs=0.02)
    assert abs(halves.loss(lambda total, _: total / pattern)) < 0.025  # a perfect gain leaves none
    with pytest.raises(ValueError, match="same 2-D shape"):
        fixed_pattern_loss(np.zeros((4, 4)), np.zeros((4, 5)))


def film(shape, transmission, rng, angle=0.4, offset=0.2):
    """Particles-like texture in ice, with a straight film edge across it."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    image = 1 + 0.02 * smooth(shape, shape[0] / 4, rng)
    if transmission < 1:
        side = (x - shape[1] / 2) * np.cos(angle) + (y - shape[0] / 2) * np.sin(angle) > offset * shape[0]
        image = np.where(side, transmission * image, image)
    return image


def test_a_straight_film_edge_stands_out_where_ice_does_not():
    rng = np.random.default_rng(7)
    shape, blocks = (512, 512), 8
    strengths = []
    for transmission in (1.0, 1.0, 1.0, 0.93):
        image = rng.poisson(400 * film(shape, transmission, rng))
        means = koma.block_means(image, blocks)
        strengths.append(edge_strength(means / means.mean()))
    assert max(strengths[:3]) < 0.02 < 0.05 < strengths[3], strengths


@given(
    st.sampled_from([np.uint8, np.int16, np.int32, np.uint32]),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 9),
    st.integers(0, 2**31 - 1),
)
def test_block_means_of_counts_are_the_float64_means_to_the_last_bit(dtype, ny, nx, block, seed):
    """Summed as integers (no float64 copy of the frame), the screen's block means are unchanged;
    the partial blocks at the edges (here 3 rows and 1 column) are left out, as before."""
    info = np.iinfo(dtype)
    image = np.random.default_rng(seed).integers(
        info.min, info.max, (ny * block + 3, nx * block + 1), dtype=dtype
    )
    rows, columns = image.shape[0] // block, image.shape[1] // block
    whole = image[: rows * block, : columns * block].astype(np.float64)
    expected = whole.reshape(rows, block, columns, block).mean(axis=(1, 3))
    assert np.array_equal(koma.block_means(image, block), expected)


def write_session(folder, images):
    """KOMA sum records for stacks ``stack_0000...``, as rule koma_sum writes them."""
    paths = []
    for k, image in enumerate(images):
        name = f"stack_{k:04d}"
        write_stack_sum(folder / f"{name}.sum.mrcz", image, stack=name, frames=40)
        koma_sum(folder / f"{name}.sum.mrcz", folder / f"{name}.json", stack=name)
        paths.append(folder / f"{name}.json")
    return paths


def test_a_window_with_a_film_kept_out_is_topped_up_from_the_nearest_spare(tmp_path):
    rng = np.random.default_rng(8)
    shape = (256, 256)
    images = [rng.poisson(400 * film(shape, 0.75 if k == 4 else 1.0, rng)) for k in range(9)]
    paths = write_session(tmp_path, images)
    # Stack 3, radius 2, 2 spares: all 9 stacks are candidates; stack 4 is a film.
    lo, hi = koma.window(3, 9, 2, spare=2)
    fix, info = window_correction(paths[3], paths[lo:hi], limit=4)
    assert info["excluded_in_window"] == ["stack_0004"]
    assert info["window_stacks_used"] == 4
    used = set(info["window"]) - {"stack_0003", "stack_0004", *info["spare_unused"]}
    assert used == {"stack_0000", "stack_0001", "stack_0002", "stack_0005"}  # the nearest (ties: the earlier)
    assert info["spare_unused"] == ["stack_0006", "stack_0007", "stack_0008"]
    # Without the limit every kept stack of the list is used.
    assert window_correction(paths[3], paths[lo:hi])[1]["window_stacks_used"] == 7


@pytest.mark.parametrize("stored", [True, False])
def test_a_window_reads_its_spares_once_and_again_only_to_top_up(tmp_path, monkeypatch, stored):
    """The nearest stacks enter the window's sum as they are read and the spares only join the screen,
    from their records' block sums: with no stack kept out only the stack and its 4 nearest are read; a
    film among the nearest costs two reads more (it leaves, the nearest spare enters). A record written
    before block sums were stored (``stored`` False) has its spare's sum read for the screen instead
    (9 and 11 reads). The correction is that of the stacks used, as if given alone, either way."""
    import mrczflow.koma.steps as steps

    reads = []
    read_sum = steps.read_sum
    monkeypatch.setattr(steps, "read_sum", lambda path: reads.append(path) or read_sum(path))
    rng = np.random.default_rng(8)
    shape = (256, 256)
    for film_at, expected_reads in ((None, 5 if stored else 9), (4, 7 if stored else 11)):
        images = [rng.poisson(400 * film(shape, 0.75 if k == film_at else 1.0, rng)) for k in range(9)]
        folder = tmp_path / f"film{film_at}"
        folder.mkdir()
        paths = write_session(folder, images)
        if not stored:
            for path in paths:
                record = json.loads(path.read_text())
                del record[steps.BLOCKS_FIELD]
                path.write_text(json.dumps(record))
        reads.clear()
        fix, info = window_correction(paths[3], paths, limit=4)
        assert len(reads) == expected_reads, (film_at, reads)
        assert info["excluded_in_window"] == ([] if film_at is None else ["stack_0004"])
        # As before: every stack's sum in the window's first, the ones not used taken out again.
        everyone = steps.WindowSum("stack_0003", shape, KomaSettings(), 4)
        own, own_info = read_sum(paths[3])
        everyone.own_member = steps.WindowSum._member(paths[3], own, own_info, "auto")
        for place, path in enumerate(paths):
            if place != 3:
                everyone.add(path, place - 3)
        assert np.allclose(
            everyone.correction(None).pattern, fix.pattern, rtol=0, atol=1e-6
        )  # float32 rounding


def test_a_record_s_block_sums_are_its_sum_s_and_a_wrong_one_is_named(tmp_path):
    """The screen's views taken from a record are the block means of the KOMA sum itself, at both
    block sizes, to the last bit; block sums of another shape are refused, naming the file."""
    import mrczflow.koma.steps as steps

    rng = np.random.default_rng(3)
    shape = (1100, 1300)  # an edge block of 8 px, partial blocks at both edges
    paths = write_session(tmp_path, [rng.poisson(40.0, shape) for _ in range(3)])
    image, info = read_sum(paths[1])
    member = steps.WindowSum._member(paths[1], None, info, "auto")
    assert np.array_equal(member.blocks, koma.block_means(image))
    assert np.array_equal(member.edge_blocks, koma.block_means(image, edge_block(shape)))
    packed = info[steps.BLOCKS_FIELD]["32"]
    for lie, says in (
        ({**packed, "shape": [33, 40]}, r"are \[33, 40\] \(1360 numbers\)"),
        ({**packed, "base64": packed["base64"][:-8]}, "are"),
        ({**packed, "base64": "not base64!"}, "are not readable"),
        ({**packed, "dtype": "<f8"}, "are of type '<f8'"),
        ({"shape": [34, 40]}, "are not readable"),
    ):
        info[steps.BLOCKS_FIELD]["32"] = lie
        with pytest.raises(ValueError, match=r"stack_0001\.json: its 32-px block sums " + says):
            steps.WindowSum._member(paths[1], None, info, "auto")
    record = json.loads(paths[2].read_text())
    record[steps.SUM_FIELD]["shape"] = [1100, "1300"]
    paths[2].write_text(json.dumps(record))
    with pytest.raises(ValueError, match=r"stack_0002\.json: its sum's shape"):
        read_sum(paths[2])


@pytest.mark.parametrize("start", [0.0, 16.0])
def test_at_the_session_s_start_the_pattern_the_stack_does_not_have_yet_is_left_out(start):
    """A drifting gain, right at stack ``start``: the window of stack 0 (stacks 1-12) averages the pattern
    at 6.5. Taken at the start, stack 0 has none of it yet, and the trend leaves it out; taken
    mid-session (16 stacks on), stack 0 has more of it than the window, and it is kept, never scaled up."""
    rng = np.random.default_rng(9)
    shape, dose = (128, 128), 5000.0
    drift = 0.002 * smooth(shape, 16, rng)  # per stack
    sums, spread, plain = [], Spread.empty(shape), Spread.empty(shape)
    for k in range(1, 13):
        image = rng.poisson(dose * (1 + (k - start) * drift)).astype(np.int64)
        sums.append(image)
        spread.add(image, k % 2, float(k))
        plain.add(image, k % 2)
    total = np.sum(sums, axis=0)
    truth = -start * drift - np.mean(-start * drift)  # stack 0's own pattern

    def error(window_spread):
        return float(np.std(koma.correction(total, 12, 480, spread=window_spread).pattern - truth))

    with_trend, without = error(spread), error(plain)
    if start == 0.0:
        assert with_trend < 0.3 * without, (with_trend, without)
    else:
        assert with_trend == pytest.approx(without, rel=0.01)


def test_the_report_s_koma_figure_draws_the_dqe_loss_when_the_records_hold_it(tmp_path):
    from PIL import Image

    from mrczflow.koma.figures import plot_koma

    records = {
        f"stack_{i:04d}": {
            "correlated_noise_before": 0.01,
            "correlated_noise_after": 0.001,
            "fixed_pattern_loss_before": 0.05,
            "fixed_pattern_loss_after": 0.01,
            "high_contrast": i == 3,
        }
        for i in range(10)
    }
    plot_koma(records, tmp_path / "now.png")
    older = {stack: {k: v for k, v in r.items() if "fixed" not in k} for stack, r in records.items()}
    plot_koma(older, tmp_path / "older.png")  # records from before the loss was measured: one panel
    assert Image.open(tmp_path / "now.png").height > 1.5 * Image.open(tmp_path / "older.png").height


@pytest.mark.parametrize("seed", range(3))
def test_the_outer_columns_and_rows_are_corrected_as_well_as_the_inside(seed):
    """A detector whose response ramps across the frame: a periodic transform joins its opposite edges, and the
    Wiener filter blurred that false step into the outer columns and rows (their mean error 2.6-3.5x the
    inside's over 8 seeds). Mirrored at the edges: 1.0-1.7x."""
    rng = np.random.default_rng(seed)
    shape = (128, 160)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]]
    flat = 1 + 0.1 * (x / shape[1] - 0.5) + 0.05 * (y / shape[0] - 0.5) + 0.03 * rng.normal(size=shape)
    sums, spread = [], Spread.empty(shape)
    for place in (*range(-6, 0), *range(1, 7)):
        image = rng.poisson(400 * flat).astype(np.int64)
        sums.append(image)
        spread.add(image, place % 2, float(place))
    error = koma.correction(np.sum(sums, axis=0), 12, 480, spread=spread).pattern - (flat / flat.mean() - 1)
    columns, rows = error.mean(axis=0), error.mean(axis=1)
    edges = np.abs(np.r_[columns[[0, 1, -2, -1]], rows[[0, 1, -2, -1]]]).mean()
    inside = np.abs(np.r_[columns[16:-16], rows[16:-16]]).mean()
    assert edges < 2 * inside, (edges, inside)


@pytest.mark.parametrize("with_gain", [False, True])
def test_a_correction_holds_few_frame_sized_images_at_once(with_gain):
    """The float64 copies of the window's counts (and the gain's) are let go before the Wiener filter, and the
    noise images are scaled in place: the peak the correction allocates stays near 10 float32 frames (it
    was 12.8 without a gain and 19.9 with one, where a K2 frame is 57 MB). The rows a score keeps are
    copies, not views holding the whole frame's pattern."""
    import tracemalloc

    from mrczflow.koma.correction import correction

    rng = np.random.default_rng(1)
    shape = (1024, 1024)
    spread, total = Spread.empty(shape), np.zeros(shape, np.int64)
    for k in range(8):
        image = rng.poisson(50.0, shape).astype(np.int32)
        total += image
        spread.add(image, k % 2, float(k - 4) if k < 4 else float(k - 3))
    gain = rng.uniform(0.9, 1.1, shape).astype(np.float32) if with_gain else None
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        fix = correction(total, 8, 320, gain, spread=spread)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    frames = peak / (4 * shape[0] * shape[1])
    assert frames < 12.2, frames  # measured 9.8 without a gain, 10.9 with one
    scored = fix.rows(slice(None, None, 3))
    assert scored.pattern.flags.c_contiguous and not np.shares_memory(scored.pattern, fix.pattern)
    assert np.array_equal(scored.pattern, fix.pattern[::3])
    if with_gain:
        assert not np.shares_memory(scored.gain, fix.gain) and np.array_equal(scored.gain, gain[::3])
