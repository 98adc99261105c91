"""The simulator produces the statistics it was asked for (issue 3)."""

from __future__ import annotations

import tracemalloc

import mdocfile
import numpy as np
import pytest
import tifffile
from click.testing import CliRunner
from scipy import ndimage

from mrczflow import mrcz
from mrczflow.koma.noise import correlated_noise
from mrczflow.simulate import DefectSchedule, DetectorConfig, SessionConfig, StackSimulation, Truth, simulate
from mrczflow.simulate.detector import Detector
from mrczflow.simulate.options import configs_from_options, knob_options  # noqa: F401 - CLI imports

REFERENCE_RATES = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0)


@pytest.fixture(scope="module")
def session_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim")
    simulate(
        out,
        SessionConfig(
            n_stacks=6, n_frames=20, specimen="vacuum", formats=("counts", "vendor", "tiff"), seed=11
        ),
        DetectorConfig(shape=(256, 256), coincidence_dose_rate=0.0),
    )
    return out


def clean_pixels(truth: Truth, index: int) -> np.ndarray:
    outliers, ambiguous = truth.outlier_masks(index)
    return ~(outliers | ambiguous | truth.dead_mask(index))


def test_mean_dose_within_one_percent_of_nominal(session_dir):
    truth = Truth(session_dir / "truth" / "session.npz")
    for index in range(truth.n_stacks):
        stack = mrcz.read(session_dir / "movies" / f"stack_{index:04d}.mrc")
        s = truth.stack(index)
        assert s.detected_per_frame == s.dose_per_frame  # coincidence loss switched off here
        measured = stack.mean(axis=0, dtype=np.float64)[clean_pixels(truth, index)].mean()
        assert measured == pytest.approx(s.dose_per_frame, rel=0.01)


def one_stack(config: DetectorConfig, seed: int = 0, **options) -> StackSimulation:
    """A single simulated stack, outside any session (``seed``: its detector's; its defects and counts follow)."""
    detector = Detector(config, np.random.default_rng(seed))
    schedule = DefectSchedule(config, np.random.default_rng(seed + 1))
    return StackSimulation(detector, schedule.next_stack(0), rng=np.random.default_rng(seed + 2), **options)


def test_coincidence_loss_lowers_counts_at_high_dose_rate(tmp_path):
    config = DetectorConfig(
        shape=(128, 128), hot_fraction_start=0, hot_fraction_end=0, dead_fraction_start=0, dead_fraction_end=0
    )
    sim = one_stack(
        config,
        dose_rate=9.0,
        frame_time=0.5,
        n_frames=10,
        specimen="vacuum",
        particle_radius=0,
        drift_speed=0,
    )
    mean = np.mean([frame.mean() for frame in sim.frames()])
    assert mean == pytest.approx(4.5 / (1 + 9 / 80), rel=0.01)


def test_hot_pixel_count_and_growth_within_ten_percent(tmp_path):
    shape = (512, 512)
    config = DetectorConfig(
        shape=shape, hot_fraction_start=4e-4, hot_fraction_end=9e-4, hot_growth_dose=100.0
    )
    out = tmp_path / "grow"
    simulate(
        out,
        SessionConfig(
            n_stacks=6,
            n_frames=10,
            frame_time=0.5,
            dose_rate=4.0,
            dose_rate_jitter=0,
            specimen="vacuum",
            seed=3,
        ),
        config,
        references=False,
    )
    truth = Truth(out / "truth" / "session.npz")
    n_pixels = shape[0] * shape[1]
    observed = []
    for index in range(truth.n_stacks):
        cumulative = index * 20.0
        expected = (4e-4 + 5e-4 * min(1.0, cumulative / 100.0)) * n_pixels
        assert len(truth.stack(index).hot_indices) == pytest.approx(expected, rel=0.10)
        # Count them in the data too: pixels far above the clean sum.
        total = mrcz.read(out / "movies" / f"stack_{index:04d}.mrc").sum(axis=0, dtype=np.float64)
        clean = 10 * truth.stack(index).detected_per_frame * truth.gain(truth.stack(index).dose_rate)
        excess = (total - clean) / np.sqrt(clean)
        peaks = (excess > 6) & (excess == ndimage.maximum_filter(excess, 3))
        observed.append(int(peaks.sum()))
        s = truth.stack(index)
        significance = s.hot_rates * 10 / np.sqrt(clean.reshape(-1)[s.hot_indices])
        assert observed[-1] == pytest.approx(int((significance > 6).sum()), rel=0.10)
    growth = len(truth.stack(5).hot_indices) / len(truth.stack(0).hot_indices)
    assert growth == pytest.approx(9 / 4, rel=0.10)


def test_hot_pixels_come_and_go_dead_pixels_stay(session_dir):
    truth = Truth(session_dir / "truth" / "session.npz")
    for index in range(1, truth.n_stacks):
        before, after = truth.stack(index - 1), truth.stack(index)
        kept = np.intersect1d(before.hot_indices, after.hot_indices).size / before.hot_indices.size
        assert 0.3 < kept < 0.9  # configured persistence 0.6: some stay, some vanish
        assert np.isin(before.dead_indices, after.dead_indices).all()
    stack = mrcz.read(session_dir / "movies" / "stack_0003.mrc")
    dead = truth.dead_mask(3)
    assert dead.any() and (stack[:, dead] == 0).all()


@pytest.mark.parametrize("seed", [5])
def test_brute_force_gamma_of_references_matches_configured_law(tmp_path, seed):
    out = tmp_path / "refs"
    simulate(out, SessionConfig(seed=seed), DetectorConfig(shape=(512, 512)), movies=False)
    truth = Truth(out / "truth" / "references.npz")
    gain = mrcz.read(out / "references" / "gain_vendor.mrc").astype(np.float64)
    for index, rate in enumerate(REFERENCE_RATES):
        flat = mrcz.read(out / "references" / "movies" / f"flat_{rate:g}.mrc").sum(axis=0, dtype=np.float64)
        flat = np.where(clean_pixels(truth, index), flat, np.median(flat))

        def spread(g: float, flat: np.ndarray = flat) -> float:
            return ndimage.uniform_filter(flat * gain**g, 64).std()  # paper Eq. 10

        # Brute force in two passes: every 0.02 over 0.5-1.8, then every 0.002 around the best.
        coarse = np.arange(0.5, 1.8, 0.02)
        best = coarse[int(np.argmin([spread(g) for g in coarse]))]
        fine = np.arange(best - 0.03, best + 0.03, 0.002)
        best = fine[int(np.argmin([spread(g) for g in fine]))]
        assert best == pytest.approx(truth.gamma(rate), abs=0.02), f"dose rate {rate}"


def test_correlated_noise_is_positive_and_falls_with_true_gain_and_mask(session_dir):
    truth = Truth(session_dir / "truth" / "session.npz")
    for index in range(3):
        stack = mrcz.read(session_dir / "movies" / f"stack_{index:04d}.mrc").astype(np.float32)
        s = truth.stack(index)
        raw = correlated_noise(stack)
        corrected = stack / truth.gain(s.dose_rate).astype(np.float32)
        corrected[:, ~clean_pixels(truth, index)] = s.detected_per_frame
        assert 0.005 < raw < 0.05  # the paper's raw level is of order 0.01
        assert correlated_noise(corrected) < raw / 4


def test_formats_agree_and_mdoc_describes_the_movie(session_dir):
    counts = mrcz.read(session_dir / "movies" / "stack_0001.mrc")
    vendor = mrcz.read(session_dir / "movies_vendor" / "stack_0001.mrc")
    gain = mrcz.read(session_dir / "references" / "gain_vendor.mrc")
    assert vendor.dtype == np.float32 and np.array_equal(vendor, counts.astype(np.float32) * gain)
    assert np.array_equal(tifffile.imread(session_dir / "movies_tiff" / "stack_0001.tif"), counts)
    with tifffile.TiffFile(session_dir / "movies_tiff" / "stack_0001.tif") as tif:
        assert tif.pages[0].compression == tifffile.COMPRESSION.LZW
    truth = Truth(session_dir / "truth" / "session.npz")
    mdoc = mdocfile.read(session_dir / "movies" / "stack_0001.mrc.mdoc")
    assert mdoc["DoseRate"][0] == pytest.approx(truth.stack(1).dose_rate, rel=1e-4)
    assert mdoc["NumSubFrames"][0] == 20 and mdoc["ExposureTime"][0] == pytest.approx(20 * 0.25)
    stamps = [
        mdocfile.read(session_dir / "movies" / f"stack_{i:04d}.mrc.mdoc")["DateTime"][0] for i in range(2)
    ]
    assert stamps[0] != stamps[1]


def test_deterministic_from_seed(tmp_path):
    small = DetectorConfig(shape=(64, 64))
    for name, seed in [("a", 1), ("b", 1), ("c", 2)]:
        simulate(tmp_path / name, SessionConfig(n_stacks=2, n_frames=3, seed=seed), small, references=False)
    read = lambda name: mrcz.read(tmp_path / name / "movies" / "stack_0001.mrc")  # noqa: E731
    assert np.array_equal(read("a"), read("b")) and not np.array_equal(read("a"), read("c"))


def test_high_contrast_specimens_stand_out(tmp_path):
    simulate(
        tmp_path,
        SessionConfig(n_stacks=3, n_frames=10, carbon_stacks=(1,), crystalline_stacks=(2,)),
        DetectorConfig(shape=(256, 256)),
        references=False,
    )
    lowpass = [
        ndimage.gaussian_filter(mrcz.read(tmp_path / "movies" / f"stack_{i:04d}.mrc").sum(0).astype(float), 4)
        for i in range(3)
    ]
    contrast = [img.std() / img.mean() for img in lowpass]
    assert contrast[1] > 3 * contrast[0] and contrast[2] > 3 * contrast[0]
    assert list(Truth(tmp_path / "truth" / "session.npz")._data["specimen"]) == [
        "particles",
        "carbon",
        "crystalline",
    ]


def test_generation_holds_a_few_frames_not_the_stack():
    sim = one_stack(
        DetectorConfig(shape=(1024, 1024)),
        dose_rate=4,
        frame_time=0.25,
        n_frames=30,
        specimen="particles",
        particle_radius=12,
        drift_speed=0.8,
    )
    tracemalloc.start()
    for _ in sim.frames():
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    frame_float64 = 1024 * 1024 * 8
    assert peak < 6 * frame_float64  # a 30-frame stack would be 30 frames


def test_script_help_documents_every_knob():
    import dataclasses
    import runpy

    module = runpy.run_path("workflow/scripts/simulate_demo.py", run_name="not_main")
    result = CliRunner().invoke(module["main"], ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for config in (SessionConfig, DetectorConfig):
        for field in dataclasses.fields(config):
            if field.name != "gamma":
                assert f"--{field.name.replace('_', '-')}" in result.output
                assert field.metadata["help"][:30] in result.output
    for name in ("a1", "a2", "a3", "b1"):
        assert f"--gamma-{name}" in result.output


def test_script_rejects_bad_options(tmp_path):
    import runpy

    module = runpy.run_path("workflow/scripts/simulate_demo.py", run_name="not_main")
    result = CliRunner().invoke(module["main"], [str(tmp_path / "x"), "--specimen", "ice"])
    assert result.exit_code == 2 and "--specimen must be particles or vacuum" in result.output
    result = CliRunner().invoke(module["main"], [str(tmp_path / "x"), "--shape", "a,b"])
    assert result.exit_code == 2


def test_a_drifting_gain_moves_the_low_frequencies_over_the_session_and_the_movies_follow(tmp_path):
    """Issue 18: with gain_drift the true response's low-frequency pattern changes linearly over the session."""
    simulate(
        tmp_path,
        SessionConfig(
            n_stacks=5, n_frames=30, specimen="vacuum", dose_rate=8.0, dose_rate_jitter=0.0, seed=2
        ),
        DetectorConfig(shape=(128, 128), gain_drift=0.1, coincidence_dose_rate=0.0),
        references=False,
    )
    truth = Truth(tmp_path / "truth" / "session.npz")
    assert [truth.stack(i).session_fraction for i in range(5)] == [0.0, 0.25, 0.5, 0.75, 1.0]
    rate = truth.stack(0).dose_rate
    first, middle, last = (np.log(truth.gain(rate, fraction)) for fraction in (0.0, 0.5, 1.0))
    assert np.array_equal(truth.stack_gain(4), truth.gain(rate, 1.0))  # no dose-rate jitter here
    change = last - first  # the drift pattern times gain_drift, up to a constant
    assert change.std() == pytest.approx(0.1, rel=0.05)
    assert np.allclose(middle - first, change / 2 - (change / 2).mean() + (middle - first).mean(), atol=1e-5)
    assert np.allclose(
        truth.gain(truth.stack(2).dose_rate, 0.5), truth.gain(truth.stack(2).dose_rate), atol=1e-9
    )
    movies = [
        mrcz.read(tmp_path / "movies" / f"stack_{i:04d}.mrc").sum(axis=0).astype(np.float64) for i in (0, 4)
    ]
    measured = ndimage.uniform_filter(
        np.log(movies[1] / movies[1].mean()) - np.log(movies[0] / movies[0].mean()), 16
    )
    expected = ndimage.uniform_filter(change - change.mean(), 16)
    assert np.corrcoef(measured.ravel(), expected.ravel())[0, 1] > 0.9


def test_per_pixel_coincidence_makes_the_response_depend_on_the_dose_rate_pixel_by_pixel():
    """Issue 18: with coincidence_spread each pixel loses its own share; without, all pixels alike."""
    flat = Detector(DetectorConfig(shape=(64, 64), coincidence_spread=0.0), np.random.default_rng(1))
    spread = Detector(DetectorConfig(shape=(64, 64), coincidence_spread=0.3), np.random.default_rng(1))
    assert np.array_equal(flat.pixel_gain, spread.pixel_gain)  # the default random stream is unchanged
    gamma_only = flat.gain(9.0) / flat.gain(1.0)
    with_loss = spread.gain(9.0) / spread.gain(1.0)
    assert flat.coincidence_limits is None
    assert (with_loss / gamma_only).std() > 0.01  # pixel by pixel: 9 vs 1 e/px/s at limits 80 e/px/s +- 30%
    # pixels with a low coincidence limit lose more at high dose rate
    low = spread.coincidence_limits < np.median(spread.coincidence_limits)
    assert (with_loss / gamma_only)[low].mean() < (with_loss / gamma_only)[~low].mean()


def test_carbon_films_of_different_transmission(tmp_path):
    """Issue 18: films from thick (0.7) to thin (0.93); a thinner film has less contrast."""
    from mrczflow.koma.screen import contrast

    simulate(
        tmp_path,
        SessionConfig(
            n_stacks=3, n_frames=20, carbon_stacks=(0, 1, 2), carbon_transmission=(0.7, 0.85, 0.97), seed=4
        ),
        DetectorConfig(shape=(192, 192)),
        references=False,
    )
    truth = Truth(tmp_path / "truth" / "session.npz")
    values = [
        contrast(mrcz.read(tmp_path / "movies" / f"stack_{i:04d}.mrc").sum(axis=0), 1 / truth.stack_gain(i))
        for i in range(3)
    ]
    assert values[0] > values[1] > values[2]
