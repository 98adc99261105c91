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
    assert set(record["throughput_mb_s"]) >= {"ingest", "compress", "outliers", "koma"}
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
    paths = ReportPaths(
        ingest=f"{tmp_path}/results/ingest/{{stack}}.json",
        storage=f"{tmp_path}/results/mrcz/{{stack}}.json",
        archive=f"{tmp_path}/results/mrcz/{{stack}}.mrcz",
        outliers=f"{tmp_path}/results/outliers/{{stack}}.json",
        mask=f"{tmp_path}/results/outliers/{{stack}}.mask.mrcz",
        screen=f"{tmp_path}/results/koma/sums/{{stack}}.json",
        sums=f"{tmp_path}/results/koma/sums/{{stack}}.sum.mrcz",
        koma=f"{tmp_path}/results/koma/{{stack}}.json",
        log=f"{tmp_path}/logs/{{stage}}/{{stack}}.log",
        benchmark=f"{tmp_path}/logs/benchmark/{{stage}}/{{stack}}.tsv",
    )
    session = collect(stacks, paths)
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
