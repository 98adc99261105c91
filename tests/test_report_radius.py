"""The report's KOMA radius curve (issue 16): a point whose window is the one rule koma used is that step's
own measurement, not made again; every other point is made as before; the radius in force is drawn."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mrczflow import mrcz
from mrczflow.koma import steps as koma_steps
from mrczflow.koma.settings import KomaSettings
from mrczflow.koma.windows import window
from mrczflow.outliers import detect, stack_sum
from mrczflow.report import ReportPaths, collect
from mrczflow.report.radius import RADII, radius_curves
from mrczflow.storage.sums import score_rows, write_half_sum, write_stack_sum

from .test_one_pass import movie_with_defects

N_STACKS, RADIUS, SPARE = 9, 3, 2  # radius 3: not one of RADII, so drawing it is the curve's addition


@pytest.fixture(scope="module")
def session_files(tmp_path_factory):
    """A 9-stack session as the workflow leaves it: archives, half sums, masks, KOMA sums, and each stack's KOMA record
    from rule koma's step with its window (radius 3, 2 spares a side)."""
    root = tmp_path_factory.mktemp("radius_session")
    paths = ReportPaths(
        ingest=f"{root}/ingest/{{stack}}.json",
        storage=f"{root}/mrcz/{{stack}}.json",
        archive=f"{root}/mrcz/{{stack}}.mrcz",
        outliers=f"{root}/outliers/{{stack}}.json",
        mask=f"{root}/outliers/{{stack}}.mask.mrcz",
        screen=f"{root}/koma/sums/{{stack}}.json",
        sums=f"{root}/koma/sums/{{stack}}.json",
        half=f"{root}/sums/{{stack}}.half.mrcz",
        koma=f"{root}/koma/{{stack}}.json",
        log=f"{root}/logs/{{stage}}/{{stack}}.log",
        benchmark=f"{root}/logs/benchmark/{{stage}}/{{stack}}.tsv",
    )
    for folder in ("mrcz", "outliers", "koma/sums", "sums"):
        (root / folder).mkdir(parents=True)
    stacks = [f"stack_{i:04d}" for i in range(N_STACKS)]
    for i, stack in enumerate(stacks):
        movie = movie_with_defects(100 + i, frames=6, size=64)
        mrcz.write(paths.of("archive", stack), movie.astype(np.uint8))
        write_stack_sum(
            root / "sums" / f"{stack}.sum.mrcz", movie.sum(axis=0), stack=stack, frames=len(movie)
        )
        rows = score_rows(movie.shape[1])
        write_half_sum(
            paths.of("half", stack), movie[0::2, rows].sum(axis=0), stack=stack, frames=6, rows=rows
        )
        mrcz.write(paths.of("mask", stack), detect(stack_sum(movie)).flags)
        koma_steps.koma_sum(
            root / "sums" / f"{stack}.sum.mrcz",
            paths.of("sums", stack),
            stack=stack,
            flags_path=paths.of("mask", stack),
        )
    for i, stack in enumerate(stacks):
        lo, hi = window(i, N_STACKS, RADIUS, SPARE)
        koma_steps.koma(
            paths.of("half", stack),
            paths.of("sums", stack),
            [paths.of("sums", other) for other in stacks[lo:hi]],
            None,
            paths.of("koma", stack),
            stack=stack,
            radius=RADIUS,
        )
    return stacks, paths


def _curves(session, paths, monkeypatch):
    """The curves, and how many corrections and stack reads they took."""
    made, read = [], []
    correction, noise_after = koma_steps.WindowSum.correction, koma_steps.noise_after

    def counted_correction(self, *args, **kwargs):
        made.append(self.own)
        return correction(self, *args, **kwargs)

    def counted_noise_after(half_path, *args, **kwargs):
        read.append(half_path)
        return noise_after(half_path, *args, **kwargs)

    monkeypatch.setattr(koma_steps.WindowSum, "correction", counted_correction)
    monkeypatch.setattr("mrczflow.report.radius.noise_after", counted_noise_after)
    curves, baseline = radius_curves(
        session, paths, 3, flags=True, koma=KomaSettings(radius=RADIUS), threads=1
    )
    return curves, baseline, len(made), len(read)


def test_the_curve_takes_rule_komas_own_point_for_its_window_and_makes_the_others(session_files, monkeypatch):
    stacks, paths = session_files
    session = collect(stacks, paths)
    assert all(session.koma[s]["window_places"] for s in stacks)
    curves, baseline, made, read = _curves(session, paths, monkeypatch)
    # Without the records' windows (as before them) every point is made from the sums and the half sums.
    for record in session.koma.values():
        record["window_places"] = None
    remade, remade_baseline, made_all, read_all = _curves(session, paths, monkeypatch)
    drawn = [r for r in sorted({*RADII, RADIUS}) if r <= (N_STACKS - 1) // 2]
    assert len(curves) == 3 and all([r for r, _ in points] == drawn for points in curves.values())
    assert RADIUS not in RADII and RADIUS in drawn  # the radius in force is drawn
    # The same numbers either way: the step's measurement is the same correction of the same halves (to
    # float32 rounding: rule koma adds the window's sums in place order, the curve nearest first).
    assert remade.keys() == curves.keys() and baseline == remade_baseline
    for stack, points in curves.items():
        assert [r for r, _ in points] == [r for r, _ in remade[stack]]
        assert np.allclose([v for _, v in points], [v for _, v in remade[stack]], rtol=0, atol=1e-8)
        measured = dict(points)[RADIUS]
        assert measured == session.koma[stack]["correlated_noise_after"]
    # Each sample's window at the radius in force is the one rule koma used: one correction fewer each.
    assert made_all == 3 * len(drawn) and made == made_all - 3
    assert read == read_all == 3  # each sample's half sum is still read once, for its other radii


def test_a_window_rule_koma_did_not_use_is_made_again(session_files, monkeypatch):
    """A record whose window differs (a stack at another place, another outlier fill) is not taken."""
    stacks, paths = session_files
    session = collect(stacks, paths)
    full = _curves(session, paths, monkeypatch)[2]
    for record in session.koma.values():
        places = record["window_places"]
        first = next(iter(places))
        places[first] += 0.5  # one stack at another place
    assert _curves(session, paths, monkeypatch)[2] == full + 3
    session = collect(stacks, paths)
    for record in session.koma.values():
        record["outlier_filtered"] = False
    assert _curves(session, paths, monkeypatch)[2] == full + 3


def test_the_koma_record_names_each_used_stack_with_its_place(session_files):
    stacks, paths = session_files
    record = json.loads(paths.of("koma", stacks[0]).read_text())
    # The first stack: a window shifted to the session's start, 2 x radius stacks after it.
    assert record["window_places"] == {stacks[k]: float(k) for k in range(1, 2 * RADIUS + 1)}


def test_a_short_session_s_largest_radius_reads_no_sum_rule_koma_measured_it_with(session_files, monkeypatch):
    """In a session of 7 the radius in force (3) is the largest drawn: where rule koma's window is the
    curve's, the stacks new at that radius join the screen from their records and their sums are not
    read; where it is not (the last stack: rule koma's window had spares beyond), they are read to make
    the point. The curve is the one made with every sum read."""
    stacks, paths = session_files
    reads = []
    read_sum = koma_steps.read_sum
    monkeypatch.setattr(koma_steps, "read_sum", lambda path: reads.append(path) or read_sum(path))

    def curves_and_reads(keep_places):
        session = collect(stacks[:7], paths)
        if not keep_places:
            for record in session.koma.values():
                record["window_places"] = None
        reads.clear()
        curves = radius_curves(session, paths, 3, flags=True, koma=KomaSettings(radius=RADIUS), threads=1)[0]
        return curves, len(reads)

    lazy, lazy_reads = curves_and_reads(True)
    eager, eager_reads = curves_and_reads(False)
    assert all([r for r, _ in points] == [1, 2, 3] for points in lazy.values())
    assert lazy.keys() == eager.keys()
    for stack, points in lazy.items():
        assert np.allclose([v for _, v in points], [v for _, v in eager[stack]], rtol=0, atol=1e-8)
    # Samples 0, 3 and 6 each read their window's 6 other sums when every one is read. Two of those are
    # new at radius 3 (5 and 6 for the first; 0 and 6 for the middle one); the last is made again.
    assert eager_reads == 3 * 6 and lazy_reads == eager_reads - 2 - 2, (lazy_reads, eager_reads)
