"""The session report (issue 8): the demo's `snakemake --report` has every section; the summary's facts."""

from __future__ import annotations

import json
import re

import pytest

from mrczflow.report import ReportPaths, anomalous, collect, summary_lines

from .workflow_helpers import deploy, snakemake

SECTIONS = {
    "1. Summary": ["summary.html"],
    "2. Storage": ["storage.png"],
    "3. Outliers": ["outliers.png", "worst_mask.png"],
    "4. Gain": ["gamma_fit.png"],
    "5. KOMA": ["koma.png", "koma_radius.png"],
}


@pytest.mark.slow
def test_demo_report_builds_offline_with_every_section(tmp_path):
    dest = deploy(tmp_path / "wf")
    run = snakemake(dest, "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    built = snakemake(dest, "--report", "report.html")
    assert built.returncode == 0, built.stderr[-3000:]
    page = (dest / "report.html").read_text()
    for category, figures in SECTIONS.items():
        assert category in page, category
        for figure in figures:
            assert figure in page, figure
            if figure.endswith(".png"):
                assert (list((dest / "results").glob(f"*/{figure}")))[0].read_bytes()[:4] == b"\x89PNG"
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert "24 of 24 stacks processed; 0 failed." in summary
    assert re.search(r"Data reduced from [\d.]+ MB to [\d.]+ MB \([\d.]+x smaller\)", summary)
    # The demo's carbon (9) and crystalline-ice (17) stacks are found and named.
    assert "kept out of KOMA windows: stack_0009, stack_0017" in summary
    record = json.loads((dest / "results" / "report" / "session.json").read_text())
    # Issue 16: the defaults keep no float gains or movies per stack (temporary gamma gains are gone),
    # and the summary counts everything written beside the archive.
    results = dest / "results"
    assert not [
        *results.glob("koma/*.gain.mrc"),
        *results.glob("*/*.norm.mrc"),
        *results.glob("gain/*.gain.mrc"),
    ]
    written = record["totals"]["written_bytes"]
    assert re.search(
        rf"Everything the session wrote: [\d.]+ MB, {written / record['totals']['mrcz_bytes']:.2f}x the archive",
        summary,
    )
    on_disk = sum(f.stat().st_size for f in results.rglob("*") if f.is_file() and "report" not in f.parts)
    assert on_disk <= written <= on_disk + sum(f.stat().st_size for f in results.glob("report/*"))
    assert set(record["throughput_mb_s"]) >= {"ingest", "outliers", "koma"}
    assert record["radius_curves"] and all(len(points) >= 4 for points in record["radius_curves"].values())
    # One row per stack, in acquisition order, as TSV and as a sortable HTML table in the report.
    table = (dest / "results" / "report" / "stacks.tsv").read_text().splitlines()
    assert table[0].split("\t") == [
        "stack",
        "time",
        "dose_rate",
        "frames",
        "hot",
        "dead",
        "ratio",
        "koma",
        "status",
    ]
    assert [row.split("\t")[0] for row in table[1:]] == [f"stack_{i:04d}" for i in range(24)]
    assert table[10].split("\t")[7:] == ["excluded", "ok"]  # stack_0009, the carbon film
    assert "stacks.html" in page and "th.onclick" in (dest / "results" / "report" / "stacks.html").read_text()


def test_the_noise_reduction_reads_true_at_any_value():
    from mrczflow.report.summary import reduction

    assert reduction(0.0139, 0.0016) == "8.7x lower"
    assert reduction(0.0154, 0.00013) == "118x lower"
    assert reduction(0.0154, -0.0652) == reduction(0.01, 0.0) == "down to the noise of the estimate"
    assert reduction(0.001, 0.002) == "no lower"


def results_paths(root):
    """Where the report finds each stack's records under ``root`` (the workflow's layout)."""
    return ReportPaths(
        ingest=f"{root}/results/ingest/{{stack}}.json",
        storage=f"{root}/results/mrcz/{{stack}}.json",
        archive=f"{root}/results/mrcz/{{stack}}.mrcz",
        outliers=f"{root}/results/outliers/{{stack}}.json",
        mask=f"{root}/results/outliers/{{stack}}.mask.mrcz",
        screen=f"{root}/results/koma/sums/{{stack}}.json",
        sums=f"{root}/results/koma/sums/{{stack}}.sum.mrcz",
        koma=f"{root}/results/koma/{{stack}}.json",
        log=f"{root}/logs/{{stage}}/{{stack}}.log",
        benchmark=f"{root}/logs/benchmark/{{stage}}/{{stack}}.tsv",
    )


def write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))


def test_summary_lists_failed_stacks_with_their_error_and_anomalous_outlier_counts(tmp_path):
    stacks = [f"s{i}" for i in range(8)]
    for i, stack in enumerate(stacks):
        if stack == "s3":
            log = tmp_path / "logs" / "ingest" / "s3.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(
                "mrczflow ingest: s3 on vm (no SLURM job, pid 1)\nerror: s3: movie.mrc: truncated file\n"
            )
            continue
        write(tmp_path / "results" / "mrcz" / f"{stack}.json", {"source_bytes": 4e9, "mrcz_bytes": 5e8})
        write(
            tmp_path / "results" / "outliers" / f"{stack}.json",
            {"hot": 5000 if stack == "s6" else 40 + i, "dead": 4},
        )
    session = collect(stacks, results_paths(tmp_path))
    assert session.failed == {"s3": "ingest: error: s3: movie.mrc: truncated file"}
    assert set(anomalous(session)) == {"s6"}
    lines = summary_lines(session)
    assert lines["Session"][0] == "7 of 8 stacks processed; 1 failed."
    assert "Data reduced from 28 GB to 3.5 GB (8.0x smaller)" in lines["Session"][1]
    assert any(
        line.startswith("s3 failed: ingest: error: s3: movie.mrc: truncated file")
        for line in lines["Look at"]
    )
    assert any(line.startswith("s6: 5000 hot pixels (far above") for line in lines["Look at"])


def test_the_summary_says_whether_processing_keeps_up_with_the_microscope():
    """Issue 16: movies a minute (per core, all stages) beside the microscope's rate from the time stamps."""
    from mrczflow.report.session import Session, pace

    stacks = [f"s{i}" for i in range(5)]
    session = Session(
        stacks=stacks,
        ingest={
            s: {"timestamp": f"2026-11-26T09:{2 * i:02d}:00"} for i, s in enumerate(stacks)
        },  # 2 min apart
        storage={s: {"source_bytes": 6e8, "mrcz_bytes": 1e8} for s in stacks},
        outliers={},
        screen={},
        koma={},
        seconds={s: {"ingest": 20.0, "outliers": 5.0, "koma": 35.0} for s in stacks},  # 60 s a movie
        failed={},
    )
    assert pace(session) == {
        "acquired_per_minute": pytest.approx(0.5),
        "processed_per_minute_per_core": pytest.approx(1.0),
        "cores_needed": pytest.approx(0.5),
    }
    assert session.movies_per_minute() == {
        "ingest": 3.0,
        "outliers": 12.0,
        "koma": 60 / 35,
        "all stages": 1.0,
    }
    text = " ".join(summary_lines(session)["Session"])
    assert (
        "1.0 movies a minute per core (all stages); the microscope acquired 0.5 a minute, so 1 core(s)"
        in text
    )
    session.seconds = {s: {"ingest": 240.0} for s in stacks}  # 4 min a movie: 2 cores needed
    assert "the microscope acquired 0.5 a minute, so 2 core(s) keep up" in " ".join(
        summary_lines(session)["Session"]
    )
    for s in stacks:
        session.ingest[s]["timestamp"] = None  # no time stamps: no claim about the microscope
    assert pace(session)["acquired_per_minute"] is None


def test_disk_written_counts_every_file_but_the_temporary_ones(tmp_path):
    from mrczflow.report.session import disk_written

    for name, size in (
        ("mrcz/a.mrcz", 100),
        ("sums/a.sum.mrcz", 10),
        ("gain/a.gain.mrc", 1000),
        ("gain/a.json", 1),
    ):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x" * size)
    assert disk_written(tmp_path) == 1111
    assert disk_written(tmp_path, ["gain/*.gain.mrc"]) == 111


def test_an_anomaly_is_a_count_beyond_noise_not_a_few_false_flags_or_a_blind_dose(tmp_path):
    # Dead: 40 in most stacks; one stack at a dose where no dead call is possible has 0 (expected).
    # Hot: 5 in most stacks; one has 14 with 3 false flags expected (noise); one has 5000 (anomaly).
    stacks = [f"s{i}" for i in range(9)]
    for i, stack in enumerate(stacks):
        record = {"hot": 5 + i % 2, "dead": 40 + i % 3, "expected_false_hot": 3.0, "expected_false_dead": 3.0}
        if stack == "s2":
            record.update(dead=0, dead_detectable_fraction=0.0)
        if stack == "s4":
            record["hot"] = 14
        if stack == "s7":
            record["hot"] = 5000
        write(tmp_path / "results" / "outliers" / f"{stack}.json", record)
    assert anomalous(collect(stacks, results_paths(tmp_path))) == {
        "s7": "5000 hot pixels (far above the session's median)"
    }
