"""The session report (issue 8): the demo's `snakemake --report` has every section; the summary's facts."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from mrczflow.report import ReportPaths, anomalous, collect, summary_lines
from mrczflow.report.table import COLUMNS

from .workflow_helpers import snakemake

SECTIONS = {
    "1. Summary": ["summary.html"],
    "2. Storage": ["storage.png"],
    "3. Outliers": ["outliers.png", "worst_mask.png"],
    "4. Gain": ["gamma_fit.png"],
    "5. KOMA": ["koma.png", "koma_radius.png"],
}


@pytest.mark.slow
def test_demo_report_builds_offline_with_every_section(demo_run):
    dest, run = demo_run
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
    # Issue 19: the summary is the report's front page (its description), and starts with the facts.
    front = (dest / "results" / "report" / "front_page.html").read_text()
    assert front in summary
    for fact in (
        "Acquired 2026-11-24 09:00 to 2026-11-24 09:23 (23 min), 24 movies.",
        "Frames: 16 a movie, 256 x 256 pixels, read from MRC uint16.",
        "Pixel size: 1.06 Å (from mdoc); 300 kV.",
        "Disk: read 50.4 MB",
        "Software: mrczflow ",
        "Gain orientation checked on each stack&#x27;s own sum: rotate 0, flip none confirmed on 24 of 24",
        "<h2>Config</h2>",
    ):
        assert fact in front, fact
    described = page[page.index("mrczflow session report: the movies") :]
    assert "Acquired 2026-11-24 09:00" in described and "Gain orientation checked on each stack" in described
    assert re.search(r"Data reduced from [\d.]+ MB to [\d.]+ MB \([\d.]+x smaller\)", summary)
    # The demo's carbon (9) and crystalline-ice (17) stacks are found and named.
    assert re.search(
        r"kept out of KOMA windows, each judged against its window&#x27;s stacks: "
        r"stack_0009 \(contrast [\d.]+ vs [\d.]+\), stack_0017 \(contrast [\d.]+ vs [\d.]+\)",
        summary,
    ), summary
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
    stated = re.search(r"Everything the session wrote: [\d.]+ MB, ([\d.]+)x the archive", summary)
    assert float(stated.group(1)) == pytest.approx(written / record["totals"]["mrcz_bytes"], rel=0.01)
    on_disk = sum(f.stat().st_size for f in results.rglob("*") if f.is_file() and "report" not in f.parts)
    assert on_disk <= written <= on_disk + sum(f.stat().st_size for f in results.glob("report/*"))
    assert set(record["throughput_mb_s"]) >= {"ingest", "outliers", "koma"}
    assert record["radius_curves"] and all(len(points) >= 4 for points in record["radius_curves"].values())
    # One row per stack, in acquisition order, as TSV and as a sortable HTML table in the report.
    table = (dest / "results" / "report" / "stacks.tsv").read_text().splitlines()
    assert table[0].split("\t") == list(COLUMNS)
    assert {"time", "dose_rate", "hot", "dead", "koma", "fp_loss_gain", "fp_loss_koma", "status"} <= set(
        COLUMNS
    )
    assert [row.split("\t")[0] for row in table[1:]] == [f"stack_{i:04d}" for i in range(24)]
    film = table[10].split("\t")  # stack_0009, the carbon film
    assert film[7] == "excluded" and film[-1] == "ok"
    kept = [row.split("\t") for row in table[1:] if row.split("\t")[7] == "kept"]
    assert all(
        -0.05 < float(row[9]) < float(row[8]) for row in kept
    )  # KOMA lowers the DQE lost to the pattern
    assert "stacks.html" in page and "th.onclick" in (dest / "results" / "report" / "stacks.html").read_text()
    # The rule draws the radius curve's sample stacks two at a time (threads: 2): the same curves as
    # one at a time.
    from mrczflow.report.radius import radius_curves

    paths = dataclasses.replace(results_paths(dest), sums=f"{dest}/results/koma/sums/{{stack}}.json")
    session = collect([f"stack_{i:04d}" for i in range(24)], paths)
    one_at_a_time = radius_curves(session, paths, 3, flags=True, threads=1)
    assert len(one_at_a_time[0]) == 3 and all(len(points) >= 4 for points in one_at_a_time[0].values())
    assert radius_curves(session, paths, 3, flags=True, threads=2) == one_at_a_time


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
        half=f"{root}/results/sums/{{stack}}.half.mrcz",
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
    assert "7 of 8 stacks processed; 1 failed." in lines["Session"]
    assert any(
        line.startswith("Data reduced from 28 GB to 3.5 GB (8.0x smaller)") for line in lines["Session"]
    )
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


def facts_session(stacks: int, *, verdict: str = "right"):
    from mrczflow.report.session import Session

    names = [f"FoilHole_{i}_Data_fractions" for i in range(stacks)]
    record = {
        "shape": [40, 3710, 3838],
        "dose_per_frame": 1.0,
        "dose_source": "epu FoilHole.xml",
        "pixel_size": 0.83,
        "pixel_size_from": "epu FoilHole.xml",
        "voltage": 300.0,
        "format": "tiff",
        "source_dtype": "uint8",
    }
    check = {
        "configured": "rotate 90, flip none",
        "best": "rotate 0, flip none" if verdict == "wrong" else "rotate 90, flip none",
        "verdict": verdict,
        "spreads": {"rotate 90, flip none": 0.31, "rotate 0, flip none": 0.27},
        "scores": {"rotate 90, flip none": 0.5, "rotate 0, flip none": -300.0},
        "no_gain": 0.29,
        "message": "",
    }
    return Session(
        stacks=names,
        ingest={
            s: {**record, "timestamp": f"2026-11-26T{9 + i // 60:02d}:{i % 60:02d}:00"}
            for i, s in enumerate(names)
        },
        storage={s: {"source_bytes": 5.7e8, "mrcz_bytes": 1.4e8} for s in names},
        outliers={s: {"hot": 40, "dead": 2, "gain_check": check} for s in names},
        screen={},
        koma={},
        seconds={},
        failed={},
    )


def test_the_front_page_states_what_a_facility_asks_first():
    """Issue 19: time span, movies, frames, dose, pixel size, detector, disk and software, with sensible precision."""
    lines = summary_lines(facts_session(120))
    facts = lines["Session"]
    assert facts[0] == "Acquired 2026-11-26 09:00 to 2026-11-26 10:59 (2 h), 120 movies."
    assert facts[1] == "Frames: 40 a movie, 3838 x 3710 pixels (Gatan K2 size), read from TIFF uint8."
    assert facts[2] == "Dose: 1 e/Å² a frame, 40 e/Å² a movie (from epu)."
    assert facts[3] == "Pixel size: 0.83 Å (from epu); 300 kV."
    assert facts[4] == "Disk: read 68.4 GB, archived as 16.8 GB."
    assert facts[5].startswith("Software: mrczflow ") and "Python" in facts[5]


def test_a_gain_that_makes_the_sums_worse_is_on_the_look_at_list():
    """Issue 19: a wrong orientation let through (orientation_check: warn) is named with the fix."""
    wrong = summary_lines(facts_session(30, verdict="wrong"))
    assert any(
        "The gain as configured (rotate 90, flip none) makes 30 stack(s) less flat than rotate 0, flip none"
        " does (relative spread 0.31 vs 0.27): set gain.rotate/gain.flip to rotate 0, flip none" in line
        for line in wrong["Look at"]
    ), wrong["Look at"]
    worse = summary_lines(facts_session(30, verdict="worse than no gain"))
    assert any("less flat than no gain in every orientation" in line for line in worse["Look at"])
    right = summary_lines(facts_session(30))
    assert right["Look at"] == ["Nothing: every stack went through every stage."]
    assert "rotate 90, flip none confirmed on 30 of 30 stacks" in " ".join(right["Session"])


def test_the_summary_says_where_read_out_lines_may_hide_line_defects():
    """Issue 17: without a CMOS read-out reference, stacks whose read-out lines are as large as a line defect
    say so (the outlier step's line_note), with the fix; stacks without such a note add no line."""
    session = facts_session(30)
    quiet = " ".join(summary_lines(session)["Session"])
    assert "read-out lines" not in quiet
    for name in session.stacks[:3]:
        session.outliers[name] = {**session.outliers[name], "line_spread": 0.35, "line_note": "spread"}
    text = " ".join(summary_lines(session)["Session"])
    assert (
        "Line defects on read-out lines: on 3 stack(s) the rows' and columns' read-out offsets spread by up to "
        "35% of the dose, and a line defect no larger on them is not told from them; a CMOS read-out reference "
        "(gamma.cmos_reference) tells them apart." in text
    )


def test_numbers_are_printed_with_sensible_precision():
    from mrczflow.report.facts import number
    from mrczflow.report.summary import reduction

    assert [number(v) for v in (0.83, 1.0, 16, 0.0012, 280.0, 1.234567, 12345.6)] == [
        "0.83",
        "1",
        "16",
        "0.0012",
        "280",
        "1.23",
        "12346",
    ]
    assert number(1.1e-5, 2) == "1.1e-05"
    assert reduction(0.014, 0.0) == "down to the noise of the estimate"


@pytest.mark.parametrize("stacks", [24, 2000])
def test_session_figures_have_time_not_stack_names_on_their_axes(tmp_path, stacks):
    """Issue 19: figures stay readable at any number of stacks: values over acquisition time."""
    from mrczflow.figures import plt, series_style, session_axis
    from mrczflow.koma.figures import plot_koma
    from mrczflow.storage.figures import plot_storage

    names = [f"FoilHole_{i}_Data_fractions" for i in range(stacks)]
    stamps = [f"2026-11-26T{9 + i // 360:02d}:{i // 6 % 60:02d}:{i % 6 * 10:02d}" for i in range(stacks)]
    x, label = session_axis(stamps)
    assert label == "minutes since the first stack" and x[-1] == pytest.approx((stacks - 1) / 6)
    assert session_axis([*stamps[:-1], None])[1] == "stack (acquisition order)"
    assert series_style(stacks)["ls"] == ("-" if stacks <= 200 else "none")
    drawn = []
    original = plt.Figure.savefig

    def keep(figure, *args, **kwargs):
        drawn.extend([tick.get_text() for tick in axes.get_xticklabels()] for axes in figure.axes)
        return original(figure, *args, **kwargs)

    plt.Figure.savefig = keep
    try:
        plot_storage(
            {s: {"source_bytes": 5.7e8, "mrcz_bytes": 1.4e8} for s in names},
            4.1,
            {},
            tmp_path / "s.png",
            stamps=stamps,
        )
        records = {
            s: {"correlated_noise_before": 0.01, "correlated_noise_after": 0.001, "high_contrast": False}
            for s in names
        }
        plot_koma(records, tmp_path / "k.png", stamps)
    finally:
        plt.Figure.savefig = original
    assert len(drawn) == 4  # storage: sizes, % of the bound, pace; KOMA: one
    for labels in drawn:
        assert not any("FoilHole" in text for text in labels)
        assert len([text for text in labels if text]) <= 15
