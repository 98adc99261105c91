"""The archive is the session (issue 14): it outlives the originals, is never replaced by less, and
writers clean up after a full disk."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from mrczflow import mrcz
from mrczflow.simulate import DetectorConfig, SessionConfig, simulate

from .workflow_helpers import arrive, configure, deploy, jobs_run, snakemake

DOSE = {"dose": {"source": "config", "dose_rate": 4.0, "frame_time": 0.25}}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    simulate(
        out, SessionConfig(n_stacks=5, n_frames=8, seed=8), DetectorConfig(shape=(64, 64)), references=False
    )
    return out


def outputs(dest):
    """Every result file's bytes but the report's and the session index's (which says where stacks come from)."""
    return {
        p.relative_to(dest): p.read_bytes()
        for p in sorted((dest / "results").rglob("*"))
        if p.is_file() and p.suffix != ".png" and "report" not in p.parts and "session" not in p.parts
    }


@pytest.mark.slow
def test_deleting_originals_changes_nothing_and_the_report_rebuilds_from_the_archives(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    arrive(raw, inputs, range(5))
    configure(dest, movies=str(inputs / "*.mrc"), koma={"radius": 2})
    assert snakemake(dest, "--cores", "2").returncode == 0
    before = outputs(dest)
    (inputs / "stack_0002.mrc").unlink()
    one = snakemake(dest, "--cores", "2")
    # Only the report reruns: the session's index now says where that stack comes from.
    assert one.returncode == 0 and set(jobs_run(one)) <= {"all", "session_report"}, one.stderr[-2000:]
    for movie in inputs.glob("*.mrc"):
        movie.unlink()
    every = snakemake(dest, "--cores", "2")
    output = every.stdout + every.stderr
    assert every.returncode == 0 and "5 stacks whose originals are gone come from their archives" in output
    assert outputs(dest) == before  # same KOMA outputs, records and archives
    index = (dest / "results" / "session" / "stacks.tsv").read_text().splitlines()[1:]
    assert len(index) == 5 and all(row.split("\t")[4] == "archived" for row in index)
    report = snakemake(dest, "--report", "report.html")
    assert report.returncode == 0 and (dest / "report.html").stat().st_size > 10_000
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert "5 of 5 stacks processed; 0 failed" in summary


@pytest.mark.slow
def test_a_worse_source_never_replaces_a_good_archive(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    arrive(raw, inputs, range(4))
    for mdoc in inputs.glob("*.mdoc"):
        mdoc.unlink()  # no metadata to catch a short movie: only the archive can
    configure(
        dest, movies=str(inputs / "*.mrc"), ingest=DOSE, gamma={"enabled": False}, koma={"enabled": False}
    )
    assert snakemake(dest, "--cores", "2").returncode == 0
    archive = dest / "results" / "mrcz" / "stack_0001.mrcz"
    kept = archive.read_bytes()
    movie = mrcz.read(inputs / "stack_0001.mrc")
    mrcz.write(inputs / "stack_0001.mrc", movie[:5], compression=None)  # an interrupted re-transfer
    changed = mrcz.read(inputs / "stack_0002.mrc")
    changed[3, 10, 10] += 1
    mrcz.write(inputs / "stack_0002.mrc", changed, compression=None)  # another movie under the same name
    refused = snakemake(dest, "--cores", "2", "--keep-going")
    assert refused.returncode != 0
    # The stacks' results stay as they were (the archive and the record, sum and summary beside it).
    assert archive.read_bytes() == kept and mrcz.MrczReader(archive).verify_all()
    for stack in ("stack_0001", "stack_0002"):
        assert (dest / "results" / "ingest" / f"{stack}.json").exists()
        assert (dest / "results" / "sums" / f"{stack}.sum.mrcz").exists()
    assert "Restored previous version of results/mrcz/stack_0001.mrcz" in refused.stdout + refused.stderr
    reported = snakemake(dest, "--cores", "2", "--keep-going")  # the next run reports what it refused
    assert reported.returncode == 0, reported.stderr[-2000:]
    assert archive.read_bytes() == kept
    log = (dest / "logs" / "ingest" / "stack_0001.log").read_text()
    assert "5 frames of 64x64, its archive results/mrcz/stack_0001.mrcz holds 8" in log
    assert "frame 3 differs from its archive" in (dest / "logs" / "ingest" / "stack_0002.log").read_text()
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert "stack_0001 failed: ingest: error: stack_0001:" in summary and "not re-archived" in summary
    # Moving the archive away is how a changed movie is archived on purpose.
    archive.rename(tmp_path / "old.mrcz")
    assert snakemake(dest, "--cores", "2", "--keep-going", "results/mrcz/stack_0001.mrcz").returncode == 0
    assert mrcz.read(archive).shape[0] == 5


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root (CI runs as root)")
def test_a_full_disk_leaves_no_part_file_and_names_the_file(tmp_path, counts):
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)], check=True)
    try:
        for compression in (None, mrcz.Compression(level=0)):
            data = np.random.default_rng(1).integers(0, 255, (8, 128, 128), dtype=np.uint8)
            with pytest.raises(mrcz.MrczError, match=rf"{disk / 'big.mrcz'}: cannot write \(No space left"):
                mrcz.write(disk / "big.mrcz", data, compression=compression)
            assert list(disk.iterdir()) == []
        mrcz.write(disk / "small.mrcz", counts)  # the space is free again: nothing stayed behind
        assert np.array_equal(mrcz.read(disk / "small.mrcz"), counts)
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_an_unchanged_source_passes_the_comparison_even_when_its_archive_was_clipped(tmp_path, counts):
    from mrczflow.storage.movies import IngestError
    from mrczflow.storage.settings import CompressSettings, DoseSettings, IngestSettings
    from mrczflow.storage.steps import ingest

    movie = counts.astype(np.uint16)
    movie[1, 2, 3] = 300
    mrcz.write(tmp_path / "m.mrc", movie, compression=None)
    settings = IngestSettings(dose=DoseSettings(source="config", dose_rate=4.0, frame_time=0.25))
    archive = tmp_path / "a.mrcz"
    clipping = dict(stack="m", settings=settings, compress=CompressSettings(allow_clipping=True))
    ingest(tmp_path / "m.mrc", archive, tmp_path / "r.json", **clipping)
    first = archive.read_bytes()
    ingest(tmp_path / "m.mrc", archive, tmp_path / "r.json", **clipping)  # the same movie: taken
    assert archive.read_bytes() == first
    movie[0, 0, 0] += 1
    mrcz.write(tmp_path / "m.mrc", movie, compression=None)
    with pytest.raises(IngestError, match="frame 0 differs from its archive"):
        ingest(tmp_path / "m.mrc", archive, tmp_path / "r2.json", **clipping)
    assert archive.read_bytes() == first and not (tmp_path / "r2.json").exists()
