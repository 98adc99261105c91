"""A session in acquisition order (issue 15): EPU names do not sort by time, the report's command line does
not grow with the session, and the session's index lists every movie and every file set aside."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from mrczflow.storage.index import read_index, write_index
from mrczflow.storage.names import acquisition_time

from .workflow_helpers import configure, deploy, snakemake

MDOC = "[FrameSet = 0]\nExposureTime = 2\nNumSubFrames = 8\nDoseRate = 4\nDateTime = {when}\n"


def test_the_time_comes_from_the_mdoc_else_the_file(tmp_path):
    movie = tmp_path / "m.tif"
    movie.write_bytes(b"x")
    mdoc = tmp_path / "m.tif.mdoc"
    mdoc.write_text(MDOC.format(when="26-Nov-26  09:14:03"))
    assert acquisition_time(movie, mdoc) == ("2026-11-26T09:14:03", "mdoc DateTime")
    os.utime(movie, (0, 3600))
    assert acquisition_time(movie, None) == ("1970-01-01T01:00:00", "file time")
    mdoc.write_text("no date here")
    assert acquisition_time(movie, mdoc)[1] == "file time"


def test_the_index_is_rewritten_only_when_it_changes(tmp_path):
    rows = [{"order": 0, "stack": "a", "time": "t", "status": "movie", "source": "/d/a\tb.tif"}]
    assert write_index(tmp_path / "i.tsv", rows)
    first = (tmp_path / "i.tsv").stat().st_mtime_ns
    assert not write_index(tmp_path / "i.tsv", rows) and (tmp_path / "i.tsv").stat().st_mtime_ns == first
    assert read_index(tmp_path / "i.tsv")[0]["source"] == "/d/a b.tif"


@pytest.mark.slow
def test_epu_names_are_ordered_by_time_and_the_report_takes_its_stacks_from_a_file(tmp_path):
    from mrczflow import mrcz
    from mrczflow.simulate import DetectorConfig, SessionConfig, simulate

    raw = tmp_path / "raw"
    simulate(
        raw, SessionConfig(n_stacks=6, n_frames=4, seed=9), DetectorConfig(shape=(48, 48)), references=False
    )
    incoming = tmp_path / "in"
    incoming.mkdir()
    start = dt.datetime(2026, 11, 26, 9, 0, 0)
    holes = [905, 117, 512, 33, 741, 260]  # foil-hole ids: name order is not time order
    for i, hole in enumerate(holes):
        name = f"FoilHole_{hole}_Data_1_{i}_20261126_fractions.mrc"
        (incoming / name).write_bytes((raw / "movies" / f"stack_{i:04d}.mrc").read_bytes())
        mdoc = (raw / "movies" / f"stack_{i:04d}.mrc.mdoc").read_text()
        when = (start + dt.timedelta(minutes=i)).strftime("%d-%b-%y  %H:%M:%S")
        (incoming / f"{name}.mdoc").write_text(re.sub(r"DateTime = .*", f"DateTime = {when}", mdoc))
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(incoming / "*.mrc"), koma={"radius": 1, "spare": 0})
    dry = snakemake(dest, "-n", "-p")
    assert dry.returncode == 0, dry.stderr[-2000:]
    order = [row["stack"] for row in read_index(dest / "results" / "session" / "stacks.tsv")]
    assert order == [f"FoilHole_{hole}_Data_1_{i}_20261126_fractions" for i, hole in enumerate(holes)]
    command = next(line for line in dry.stdout.splitlines() if "session_report.py" in line)
    assert "FoilHole" not in command  # no command line grows with the session
    run = snakemake(dest, "--cores", "2")
    assert run.returncode == 0, run.stderr[-2000:]
    import json

    window = json.loads((dest / "results" / "koma" / f"{order[3]}.json").read_text())["window"]
    assert sorted(window) == sorted(order[2:5])  # its time neighbours, not its name neighbours
    table = (dest / "results" / "report" / "stacks.tsv").read_text().splitlines()
    assert [row.split("\t")[0] for row in table[1:]] == order
    assert mrcz.MrczReader(dest / "results" / "mrcz" / f"{order[0]}.mrcz").verify_all()

    # Each file is asked for once (the report's records by the report, the rest by rule all), and a
    # missing one of either kind is made again.
    (dest / "results" / "mrcz" / f"{order[0]}.json").unlink()  # a record the report reads
    (dest / "results" / "outliers" / f"{order[4]}.defects.txt").unlink()  # a file only rule all asks for
    (dest / "results" / "koma" / "sums" / f"{order[5]}.json").unlink()  # one a KOMA window reads
    again = planned_jobs(snakemake(dest, "-n"))
    assert {("ingest", order[0]), ("outliers", order[4]), ("outliers", order[5])} <= again
    assert ("ingest", order[4]) not in again and ("ingest", order[5]) not in again


def planned_jobs(result) -> set[tuple[str, str]]:
    """(rule, stack) of every job a dry run printed."""
    jobs, rule = set(), None
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("rule ") and line.endswith(":"):
            rule = line[5:-1]
        elif line.startswith("wildcards: stack=") and rule:
            jobs.add((rule, line.split("=", 1)[1]))
    return jobs


def tiny_session(folder, n: int):
    """``n`` tiny movies (2 frames of 8 x 8) with EPU-like names and an .mdoc each, one a minute."""
    import numpy as np

    from mrczflow import mrcz

    folder.mkdir()
    frames = np.random.default_rng(0).poisson(2.0, (2, 8, 8)).astype(np.uint16)
    start = dt.datetime(2026, 11, 26, 9, 0, 0)
    for i in range(n):
        name = f"FoilHole_{900 - i}_Data_1_{i}_20261126_fractions.mrc"
        mrcz.write(folder / name, frames, compression=None)
        when = (start + dt.timedelta(minutes=i)).strftime("%d-%b-%y  %H:%M:%S")
        (folder / f"{name}.mdoc").write_text(MDOC.format(when=when))


def job_inputs(result, rule: str) -> str:
    """The input line Snakemake printed for the job of ``rule``."""
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == f"rule {rule}:")
    return next(line for line in lines[start:] if line.strip().startswith("input:"))


def test_the_jobs_of_a_run_see_the_session_its_planner_saw(tmp_path):
    """The run you start plans the session and writes its index; the processes that run its jobs (a
    SLURM submission and its job steps) read the index instead of looking at every movie and log again,
    so a job is what its planner planned (and starts in 2 s, not 10 s, at 20,000 movies: bench_scale)."""
    incoming = tmp_path / "in"
    tiny_session(incoming, 6)
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(incoming / "*.mrc"), koma={"radius": 1, "spare": 0})
    planned = snakemake(dest, "-n")
    assert planned.returncode == 0, planned.stderr[-2000:]
    order = [row["stack"] for row in read_index(dest / "results" / "session" / "stacks.tsv")]
    assert [name.split("_")[1] for name in order] == ["900", "899", "898", "897", "896", "895"]

    # Since the plan: stack 2's outlier step (which writes its KOMA sum) failed, and the movies were moved away.
    log = dest / "logs" / "outliers" / f"{order[2]}.log"
    log.parent.mkdir(parents=True)
    log.write_text(f"error: {order[2]}: a damaged sum\n")
    for path in incoming.iterdir():
        path.rename(tmp_path / path.name)
    job = snakemake(dest, "--mode", "remote", "--target-jobs", f"koma:stack={order[3]}", "-n")
    assert job.returncode == 0, job.stderr[-2000:]
    assert f"sums/{order[2]}.json" in job_inputs(job, "koma")  # the planner's window
    assert snakemake(dest, "-n").returncode != 0  # a new plan looks again: no movies

    # The next plan sees both, writes them to the index, and its jobs follow it.
    for path in tmp_path.glob("FoilHole_*"):
        path.rename(incoming / path.name)
    assert snakemake(dest, "-n").returncode == 0
    failed = {row["stack"]: row["failed"] for row in read_index(dest / "results" / "session" / "stacks.tsv")}
    assert failed[order[2]] == "outliers" and not failed[order[3]]
    job = snakemake(dest, "--mode", "remote", "--target-jobs", f"koma:stack={order[3]}", "-n")
    inputs = job_inputs(job, "koma")
    assert f"sums/{order[2]}.json" not in inputs and f"sums/{order[1]}.json" in inputs
