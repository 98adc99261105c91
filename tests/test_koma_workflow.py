"""KOMA as workflow rules (issue 7): exclusion of high-contrast stacks, outputs, incremental sessions."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from mrczflow import mrcz
from mrczflow.koma import windows_changed_by_append
from mrczflow.simulate import DetectorConfig, SessionConfig, simulate

from .workflow_helpers import arrive, configure, deploy, jobs_run, session_with_vendor_gain, snakemake

pytestmark = pytest.mark.slow
RADIUS = 2


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """Seven stacks, the third over a carbon film edge."""
    out = tmp_path_factory.mktemp("raw")
    simulate(
        out,
        SessionConfig(n_stacks=7, n_frames=8, carbon_stacks=(2,), seed=6),
        DetectorConfig(shape=(96, 96)),
        references=True,
    )
    return out


def stats(dest, stack):
    return json.loads((dest / "results" / "koma" / f"{stack}.json").read_text())


def test_koma_excludes_carbon_writes_movies_and_gains_and_reruns_only_changed_windows(tmp_path, raw):
    # No spares here: each window is its 2a + 1 stacks, so which windows an arrival changes is plain.
    dest = session_with_vendor_gain(
        tmp_path, raw, range(6), radius=RADIUS, spare=0, write_movies=True, write_gains=True
    )
    inputs = tmp_path / "incoming"
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    per_stack = {"ingest": 6, "outliers": 6, "koma": 6}  # rule outliers writes the KOMA sums
    assert jobs_run(result) == {"all": 1, **per_stack, "session_report": 1}

    screen = json.loads((dest / "results" / "koma" / "sums" / "stack_0002.json").read_text())
    assert screen["high_contrast"] and screen["contrast"] > 0.08
    for i in (0, 1, 3, 4, 5):
        record = stats(dest, f"stack_{i:04d}")
        assert record["excluded_in_window"] == ["stack_0002"] or "stack_0002" not in record["window"]
        assert record["window_stacks_used"] == 2 * RADIUS - ("stack_0002" in record["window"])
        assert record["correlated_noise_after"] < record["correlated_noise_before"] / 2
        assert abs(record["fixed_pattern_loss_after"]) < 0.1  # shot noise alone at 96 px and 8 frames
    assert stats(dest, "stack_0002")["high_contrast"]

    movie = mrcz.read(dest / "results" / "koma" / "stack_0004.norm.mrc")
    gain = mrcz.read(dest / "results" / "koma" / "stack_0004.gain.mrc")
    counts = mrcz.read(raw / "movies" / "stack_0004.mrc").astype(np.float32)
    assert movie.dtype == np.float32 and movie.shape == counts.shape and gain.dtype == np.float32
    flags = mrcz.read(dest / "results" / "outliers" / "stack_0004.mask.mrcz")
    clean = flags == 0
    # The gain reference is the whole correction: counts * gain == the movie away from outliers.
    assert np.allclose(movie[:, clean], (counts * gain)[:, clean], rtol=1e-5, atol=1e-5)
    assert movie.mean() == pytest.approx(counts.mean(), rel=0.05)
    for rule in ("outliers", "koma"):
        assert (
            (dest / "logs" / rule / "stack_0004.log").read_text().startswith(f"mrczflow {rule}: stack_0004")
        )
        assert (dest / "logs" / "benchmark" / rule / "stack_0004.tsv").exists()

    arrive(raw, inputs, [6])
    added = snakemake(dest, "--cores", "2")
    assert added.returncode == 0, added.stderr[-3000:]
    changed = windows_changed_by_append(6, RADIUS)
    assert changed == [4, 5]
    one = {rule: 1 for rule in ("ingest", "outliers")}
    assert jobs_run(added) == {"all": 1, **one, "koma": len(changed) + 1, "session_report": 1}

    configure(dest, koma={"temp_movies": True})
    temporary = snakemake(dest, "--cores", "2", "--forcerun", "koma")
    assert temporary.returncode == 0, temporary.stderr[-3000:]
    assert not list(
        (dest / "results" / "koma").glob("*.norm.mrc")
    )  # written, then deleted: nothing read them
    assert len(list((dest / "results" / "koma").glob("*.gain.mrc"))) == 7
    asked = snakemake(dest, "--cores", "2", "results/koma/stack_0001.norm.mrc")
    assert asked.returncode == 0 and (dest / "results" / "koma" / "stack_0001.norm.mrc").exists()

    configure(dest, koma={"include": ["stack_0002"]})
    included = snakemake(dest, "--cores", "2")
    assert included.returncode == 0, included.stderr[-3000:]
    assert stats(dest, "stack_0003")["excluded_in_window"] == []
    assert stats(dest, "stack_0003")["window_stacks_used"] == 2 * RADIUS


def test_too_short_a_session_and_unknown_names_are_refused(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(raw / "movies" / "stack_000[01].mrc"), gamma={"enabled": False})
    result = snakemake(dest, "-n", "--cores", "1")
    assert result.returncode != 0 and "KOMA needs at least 3 stacks" in result.stderr + result.stdout
    configure(dest, movies=str(raw / "movies" / "*.mrc"), koma={"exclude": ["stack_9999"]})
    result = snakemake(dest, "-n", "--cores", "1")
    assert result.returncode != 0 and "no stack named 'stack_9999'" in result.stderr + result.stdout


def test_a_failed_first_stack_holds_no_other_stack_back(tmp_path, raw):
    """No chain through the session: the first stack's movie is damaged; the others get their archive at
    once, and their KOMA and the report on the next run (the failed stack is left out of every window).
    And windows are topped up: with the failed stack and the carbon stack out, each still averages 2a."""
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    arrive(raw, inputs, range(7))
    damaged = inputs / "stack_0000.mrc"
    damaged.write_bytes(damaged.read_bytes()[:-100])
    configure(dest, movies=str(inputs / "*.mrc"), gamma={"enabled": False}, koma={"radius": RADIUS})
    first = snakemake(dest, "--cores", "2", "--keep-going")
    assert first.returncode != 0
    assert all((dest / "results" / "mrcz" / f"stack_{i:04d}.mrcz").exists() for i in range(1, 7))
    second = snakemake(dest, "--cores", "2", "--keep-going")
    assert second.returncode != 0  # the damaged movie still fails, alone
    for i in range(1, 7):
        record = stats(dest, f"stack_{i:04d}")
        assert "stack_0000" not in record["window"]
        assert record["window_stacks_used"] == 2 * RADIUS, record
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert "6 of 7 stacks processed; 1 failed" in summary
    assert "stack_0000 failed: ingest: error: stack_0000:" in summary and "truncated" in summary


def test_without_the_outlier_filter_rule_koma_sum_makes_the_koma_sums(tmp_path, raw):
    """With outliers on, rule outliers writes each KOMA sum; with them off, rule koma_sum does (the raw
    sum, nothing filled), and KOMA runs on it as before: the carbon stack is still kept out."""
    dest = session_with_vendor_gain(tmp_path, raw, range(5), radius=RADIUS, spare=0)
    configure(dest, outliers={"enabled": False})
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {"all": 1, "ingest": 5, "koma_sum": 5, "koma": 5, "session_report": 1}
    screen = json.loads((dest / "results" / "koma" / "sums" / "stack_0002.json").read_text())
    assert not screen["outlier_filtered"] and screen["stack_sum"]["filled_index"] == []
    assert not (dest / "results" / "outliers").exists()
    assert (
        (dest / "logs" / "koma_sum" / "stack_0001.log")
        .read_text()
        .startswith("mrczflow koma_sum: stack_0001")
    )
    assert stats(dest, "stack_0001")["excluded_in_window"] == ["stack_0002"]  # the window's own screen


def test_every_movie_is_ingested_before_later_stages_take_a_free_core(tmp_path, raw):
    """Rule ingest has priority: on one core every ingest job runs before any other job. Without it
    Snakemake ran a movie's outliers as soon as its ingest ended and left the last ingest to the end,
    where it and its outliers ran alone while KOMA (whose windows need every near stack) waited."""
    dest = session_with_vendor_gain(tmp_path, raw, range(4), radius=1, spare=0)
    result = snakemake(dest, "--cores", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    started = re.findall(r"^(?:local)?rule (\w+):", result.stdout + result.stderr, flags=re.MULTILINE)
    assert started.count("ingest") == 4 and len(started) > 4, started
    assert started[:4] == ["ingest"] * 4, started
