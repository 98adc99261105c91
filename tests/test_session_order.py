"""A session in acquisition order (issue 15): EPU names do not sort by time, the report's command line does
not grow with the session, and the session's index lists every movie and every file set aside."""

from __future__ import annotations

import datetime as dt
import os
import re

import pytest

from mrczflow.storage.names import acquisition_time, read_index, write_index

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
