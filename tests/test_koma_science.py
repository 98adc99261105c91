"""KOMA scored against the simulator (issue 7 targets, at a test's size; benchmarks/bench_koma.py prints them).

Sessions of 30 movies of 128x128 px, 40 frames of 0.25 s, at the paper's dose
rates (vacuum 7, particles 4.5 e/px/s); gain before KOMA is the vendor gain.
"""

from __future__ import annotations

import numpy as np
import pytest

from mrczflow import koma
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate
from mrczflow.simulate.koma_scores import gain_scores, koma_scores, load_session, stack_sums, truth_floor

pytestmark = pytest.mark.slow
N_STACKS = 30
CARBON = (7, 15, 22)


def session(folder, specimen, carbon=()):
    rate = {"vacuum": 7.0, "particles": 4.5}[specimen]
    simulate(
        folder,
        SessionConfig(
            n_stacks=N_STACKS, n_frames=40, dose_rate=rate, specimen=specimen, carbon_stacks=carbon, seed=5
        ),
        DetectorConfig(shape=(128, 128)),
        references=False,
    )
    truth = Truth(folder / "truth" / "session.npz")
    raw, filtered = load_session(folder, N_STACKS)
    return raw, filtered, truth.vendor_gain, truth


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    return {s: session(tmp_path_factory.mktemp(s), s) for s in ("vacuum", "particles")}


def mean(scores):
    return float(np.mean(list(scores.values())))


def test_outlier_filter_plus_koma_at_radius_12_leaves_vacuum_within_0_001_of_zero(sessions):
    raw, filtered, gain, _ = sessions["vacuum"]
    value = mean(koma_scores(filtered, stack_sums(filtered), 12, gain))
    assert abs(value) < 0.001, value
    assert value < mean(gain_scores(filtered, gain))  # better than the filter with the vendor gain alone


@pytest.mark.parametrize(("specimen", "from_radius"), [("vacuum", 4), ("particles", 8)])
def test_koma_beats_plain_gain_normalisation(sessions, specimen, from_radius):
    raw, filtered, gain, _ = sessions[specimen]
    plain = mean(gain_scores(raw, gain))
    sums = stack_sums(raw)
    for radius in (from_radius, 12):
        assert mean(koma_scores(raw, sums, radius, gain)) < plain
        assert mean(koma_scores(filtered, stack_sums(filtered), radius, gain)) < plain / 4


def test_the_default_form_and_denoising_are_the_better_ones(sessions):
    raw, filtered, gain, _ = sessions["particles"]
    sums = stack_sums(filtered)
    default = mean(koma_scores(filtered, sums, 4, gain))
    assert default < mean(koma_scores(filtered, sums, 4, gain, denoise=False)) / 2
    assert default <= mean(koma_scores(filtered, sums, 4, gain, form="subtract")) + 1e-5


def test_carbon_stacks_are_excluded_automatically_and_neighbours_do_as_well_as_hand_pruning(tmp_path):
    raw, filtered, gain, _ = session(tmp_path, "particles", carbon=CARBON)
    sums = stack_sums(filtered)
    auto = {i for i, total in enumerate(sums) if koma.contrast(total, gain) > 0.08}
    assert auto == set(CARBON)
    radius = 6
    neighbours = sorted({j for i in CARBON for j in range(i - radius, i + radius + 1)} - set(CARBON))
    automatic = mean(koma_scores(filtered, sums, radius, gain, excluded=auto, scored=neighbours))
    hand = mean(koma_scores(filtered, sums, radius, gain, excluded=set(CARBON), scored=neighbours))
    assert automatic <= hand + 1e-6


def test_on_particles_outlier_filter_plus_koma_leaves_within_0_001_of_what_the_specimen_itself_correlates(
    sessions,
):
    """The specimen correlates a stack's frames too (signal, not noise): the floor is measured with the truth."""
    raw, filtered, gain, truth = sessions["particles"]
    floor = truth_floor(truth, raw)
    value = mean(koma_scores(filtered, stack_sums(filtered), 12, gain))
    assert 0 < floor < value < floor + 0.001, (floor, value)
    assert value - floor < (mean(gain_scores(raw, gain)) - floor) / 10


def test_the_screen_judges_each_stack_against_its_window_on_a_drifting_detector(tmp_path):
    """Issue 18: a thin film is kept out, no specimen stack is, and the drift is not read as contrast."""
    from mrczflow.simulate.koma_scores import screened

    films = {4: 0.7, 11: 0.85}
    simulate(
        tmp_path,
        SessionConfig(
            n_stacks=16,
            n_frames=30,
            dose_rate=4.5,
            carbon_stacks=tuple(films),
            carbon_transmission=tuple(films.values()),
            seed=5,
        ),
        DetectorConfig(shape=(192, 192), gain_drift=0.1, coincidence_spread=0.1),
        references=False,
    )
    truth = Truth(tmp_path / "truth" / "session.npz")
    _, filtered = load_session(tmp_path, 16)
    sums = stack_sums(filtered)
    verdicts = screened(sums, radius=4)
    assert {i for i, verdict in verdicts.items() if verdict["excluded"]} == set(films)
    assert verdicts[11]["contrast"] < 0.08  # the thin film: the absolute threshold alone keeps it in
    # Against the vendor gain the drift reads as contrast at the session's ends; against the window it does not.
    specimen = [i for i in range(16) if i not in films]
    absolute = {i: koma.contrast(sums[i], truth.vendor_gain) for i in specimen}
    ends, middle = (0, 1, 14, 15), (6, 7, 8, 9)
    assert np.mean([absolute[i] for i in ends]) > 1.3 * np.mean([absolute[i] for i in middle])
    relative = {i: verdicts[i]["contrast"] for i in specimen}
    assert np.mean([relative[i] for i in ends]) < 1.15 * np.mean([relative[i] for i in middle])


def drifting_session(folder, size, n_stacks, films, seed, vendor_gain_at=0.5, specimen="particles"):
    simulate(
        folder,
        SessionConfig(
            n_stacks=n_stacks,
            n_frames=40,
            dose_rate=4.5,
            specimen=specimen,
            carbon_stacks=tuple(films),
            carbon_transmission=tuple(films.values()),
            seed=seed,
        ),
        DetectorConfig(
            shape=(size, size), gain_drift=0.1, coincidence_spread=0.1, vendor_gain_at=vendor_gain_at
        ),
        references=False,
    )
    truth = Truth(folder / "truth" / "session.npz")
    _, filtered = load_session(folder, n_stacks)
    return truth, filtered, stack_sums(filtered)


def koma_errors(folder, vendor_gain_at, n=32, radius=6, seed=5, oracle=False):
    """64-px gain error against the true flat field per position: the gamma gain alone, and KOMA after it
    (as the workflow runs it) now and before issue 18 (shot-noise-only denoising, no trend, no spares);
    ``oracle``: also KOMA with its low band weighed by the true powers (``koma_scores.oracle_low_band``)."""
    from mrczflow.gain.fit import gain_to_gamma
    from mrczflow.simulate.koma_scores import gain_error, koma_corrections, true_flat

    truth, filtered, sums = drifting_session(folder, 256, n, {}, seed=seed, vendor_gain_at=vendor_gain_at)
    flats = [true_flat(truth, i, float(sums[i].mean()) / len(filtered[i])) for i in range(n)]
    errors = {"gamma": [], "now": [], "before": [], "oracle": []}
    for i in range(n):
        gamma = gain_to_gamma(truth.vendor_gain, truth.gamma(float(truth.dose_rate[i])))
        fixes = {
            "now": koma_corrections(filtered, sums, radius, gamma, scored=[i], spare=2)[i],
            "before": koma_corrections(filtered, sums, radius, gamma, scored=[i], spread=False)[i],
        }
        if oracle:
            fixes["oracle"] = koma_corrections(
                filtered, sums, radius, gamma, scored=[i], spare=2, oracle=flats.__getitem__
            )[i]
        errors["gamma"].append(gain_error(gamma, flats[i])[1])
        for key, fix in fixes.items():
            errors[key].append(gain_error(fix.gain_reference(), flats[i])[1])
    return {key: np.array(values) for key, values in errors.items()}


def test_where_the_gain_is_right_koma_no_longer_stamps_the_window_s_specimen_on_the_stack(tmp_path):
    """Issue 18, the gain taken mid-session: there KOMA used to be worse than the gamma gain alone (the
    window's specimen stamped on the stack); with the window's measured noise it stays within the
    metric's own scatter of it (20%) everywhere, and beats it at the first and last stacks."""
    errors = koma_errors(tmp_path, vendor_gain_at=0.5)
    assert np.all(errors["now"] <= 1.2 * errors["gamma"]), errors
    assert np.any(errors["before"] > 1.2 * errors["gamma"])
    assert errors["now"][0] < errors["gamma"][0] and errors["now"][-1] < errors["gamma"][-1]


@pytest.mark.parametrize("vendor_gain_at", [0.0, 1.0])
def test_at_the_end_of_a_session_where_its_gain_was_taken_koma_leaves_the_other_end_s_drift_out(
    tmp_path, vendor_gain_at
):
    """Issue 18, the gain taken at the session's start (or end): the shifted window of the first (last) stacks
    averages drift they do not have. It used to be 2x worse than the gamma gain alone there; following the
    window's trend, judged against the stacks' own scatter, it is better at the 3 stacks nearest that end."""
    errors = koma_errors(tmp_path, vendor_gain_at=vendor_gain_at)
    end = slice(0, 3) if vendor_gain_at == 0.0 else slice(-3, None)
    assert np.all(errors["before"][end] > 1.5 * errors["gamma"][end]), errors
    assert np.all(errors["now"][end] < errors["gamma"][end]), errors


@pytest.mark.parametrize("vendor_gain_at", [0.0, 0.5, 1.0])
def test_where_the_gamma_gain_is_nearly_right_koma_adds_little(tmp_path, vendor_gain_at):
    """Issue 18, a session whose stacks' ice is strong at the lowest frequencies (seed 6): where the gamma
    gain is right to about 0.1%, KOMA's window mean carried ice of several times that onto the stacks (up to
    6.5x the gamma gain's error, at 24 of 64 positions, before the low band was judged against the stacks'
    own scatter, the filter mirrored at the frame's edges and read-out lines filtered apart). With the
    untaken trend counted as error, at most 3 positions of 32 are worse, and none by 1.5x (measured, gain
    at the start, middle, end: 1.19x, 1.02x, 1.35x; 1.25x, 1.02x, 1.78x before).

    Where KOMA is worse by more than 10%, so is the oracle, which weighs the same window's estimate with the
    true powers (measured: 1.18x and 1.10x at stacks 0-1, 1.09x and 1.52x at stacks 30-31): there the
    window's data cannot beat a gain that is already right. Over the session KOMA's error is within 1.4x
    of the oracle's (1.29x, 1.33x, 1.11x)."""
    errors = koma_errors(tmp_path, vendor_gain_at=vendor_gain_at, seed=6, oracle=True)
    ratio = errors["now"] / errors["gamma"]
    assert np.count_nonzero(ratio > 1) <= 3 and ratio.max() < 1.5, ratio
    oracle_ratio = errors["oracle"] / errors["gamma"]
    assert np.all(oracle_ratio[ratio > 1.1] > 1), (ratio, oracle_ratio)
    assert errors["now"].mean() < 1.4 * errors["oracle"].mean(), (
        errors["now"].mean(),
        errors["oracle"].mean(),
    )


def test_a_thin_film_is_kept_out_by_its_straight_edge(tmp_path):
    """Issue 18: a film passing 93% of the beam has no more contrast than ice, but a straight edge
    (here across the frame; one whose edge only grazes a corner may still pass)."""
    from mrczflow.simulate.koma_scores import screened

    films = {8: 0.93}
    _, _, sums = drifting_session(tmp_path, 256, 16, films, seed=1, specimen="vacuum")
    verdicts = screened(sums, 4, spare=2)
    film = verdicts[8]
    assert film["contrast"] < film["limit"] and film["straight_edge"], film
    assert {i for i, verdict in verdicts.items() if verdict["excluded"]} == {8}
