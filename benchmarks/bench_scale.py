"""Planning a session of many movies: dry-run time against the number of movies, and the DAG's depth.

Writes N tiny movies (2 frames of 8 x 8, EPU-like names that do not sort by
time, each with its .mdoc) into a scratch folder, deploys the workflow there
with its default config and times ``snakemake -n`` (Snakemake's own planning,
no job runs) at 2,000 and 20,000 movies, with the table of jobs per rule
(``-q rules``) and planning only (``-q``): the times, the jobs planned and the
ratio of the times (linear planning gives about 10x). Then the same for a
live pass (``mrczflow watch``) when the last of 2,000 or 20,000 movies lands
(the others done), and the start of one job's own Snakemake in the 20,000-movie
session (what every SLURM job step pays) against Snakemake's bare start. Then the longest path
of the DAG for 30 and 300 movies (it must not grow with the session), and
the report's build time from the records of 20,000 stacks (the session
report step itself, on synthetic records: every figure and the table).

    python benchmarks/bench_scale.py [--small 2000] [--large 20000] [--keep]
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import yaml

from mrczflow import mrcz

REPO = Path(__file__).resolve().parents[1]
START = datetime.datetime(2026, 11, 26, 9)
MDOC = """PixelSpacing = 1.06
Voltage = 300
ImageFile = {name}
ImageSize = 8 8
DataMode = 1

[FrameSet = 0]
ExposureTime = 0.5
ExposureDose = 2
DoseRate = 4
NumSubFrames = 2
DateTime = {stamp}
"""


def session(folder: Path, n: int) -> Path:
    """``n`` tiny movies with EPU-like names (FoilHole ids out of time order) and their .mdoc."""
    movies = folder / "movies"
    movies.mkdir(parents=True)
    frames = np.random.default_rng(0).poisson(2.0, (2, 8, 8)).astype(np.uint16)
    template = movies / "template.mrc"
    mrcz.write(template, frames, compression=None)
    raw = template.read_bytes()
    template.unlink()
    holes = np.random.default_rng(1).permutation(n)
    for i in range(n):
        name = f"FoilHole_{10_000_000 + int(holes[i])}_Data_{i % 7}_{i}_20261126_090000_fractions.mrc"
        (movies / name).write_bytes(raw)
        stamp = START + datetime.timedelta(seconds=20 * i)  # one every 20 s, over days at 20,000
        (movies / f"{name}.mdoc").write_text(
            MDOC.format(name=name, stamp=stamp.strftime("%d-%b-%y  %H:%M:%S"))
        )
    return movies


def deploy(folder: Path, movies: Path, pattern: str = "*.mrc") -> Path:
    """The workflow copied into ``folder``/wf, its config taking the movies ``movies``/``pattern``."""
    dest = folder / "wf"
    dest.mkdir()
    shutil.copy(REPO / "Snakefile", dest)
    for sub in ("workflow", "config", "envs", "profiles"):
        shutil.copytree(REPO / sub, dest / sub)
    config = yaml.safe_load((dest / "config" / "config.yaml").read_text())
    config["movies"] = str(movies / pattern)
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    return dest


def dry_run(dest: Path, *args: str, quiet: tuple[str, ...] = ("rules",)) -> tuple[float, int]:
    """Seconds of ``snakemake -n --quiet <quiet...>`` and the jobs it planned (0 when it prints no table).

    ``--quiet rules`` prints the table of jobs per rule, for which Snakemake's dry run still formats
    every job's message (a third of the time at 5,000 movies); ``--quiet`` alone (``progress rules``,
    what Snakemake's help advises for very large workflows) plans and prints nothing more.
    """
    started = time.perf_counter()
    result = subprocess.run(
        ["snakemake", "-n", "--quiet", *quiet, *args], cwd=dest, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    totals = re.findall(r"^total\s+(\d+)$", result.stdout, re.M)
    return elapsed, int(totals[-1]) if totals else 0


# Every file the per-stack rules write under the default config, in the order they make them.
STACK_FILES = (
    "results/mrcz/{stack}.mrcz",
    "results/ingest/{stack}.json",
    "results/mrcz/{stack}.json",
    "results/sums/{stack}.sum.mrcz",
    "results/outliers/{stack}.mask.mrcz",
    "results/outliers/{stack}.defects.txt",
    "results/outliers/{stack}.json",
    "results/koma/sums/{stack}.json",
    "results/koma/{stack}.json",
)


def live_last_pass(folder: Path, n: int) -> tuple[float, int]:
    """``snakemake -n`` of a live pass (mrczflow watch) when the ``n``-th movie lands: seconds, jobs.

    The first ``n - 1`` movies are done (their files exist, empty: planning reads only names and
    times), and all ``n`` are in the watcher's ready list; the pass plans the new stack and the
    neighbours whose KOMA windows it changes.
    """
    from mrczflow.storage.names import stack_name

    movies = session(folder, n)
    dest = deploy(folder, movies)
    paths = sorted(movies.glob("*.mrc"), key=lambda path: int(path.name.split("_")[4]))  # acquisition order
    for template in STACK_FILES:
        (dest / template).parent.mkdir(parents=True, exist_ok=True)
        for path in paths[:-1]:
            (dest / template.format(stack=stack_name(path))).touch()
    ready = dest / "results" / "session" / "movies_ready.jsonl"
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.write_text(
        "".join(json.dumps({"movie": str(p), "last_byte": 0.0, "taken": 0.0}) + "\n" for p in paths)
    )
    return dry_run(dest, "--config", f"movies_ready={ready}", "live=True")


def job_start(folder: Path) -> tuple[float, float]:
    """Seconds of Snakemake's bare start (``--version``) and of one KOMA job's own Snakemake, as a SLURM
    job step runs it (``--mode subprocess --target-jobs``, dry), in the planned session under ``folder``."""
    from mrczflow.storage.index import read_index

    dest = folder / "wf"
    stack = next(
        row["stack"] for row in read_index(dest / "results" / "session" / "stacks.tsv") if row["stack"]
    )
    timed = []
    for command in (["--version"], ["--mode", "subprocess", "--target-jobs", f"koma:stack={stack}", "-n"]):
        started = time.perf_counter()
        subprocess.run(["snakemake", *command], cwd=dest, capture_output=True, check=True)
        timed.append(time.perf_counter() - started)
    return timed[0], timed[1]


def longest_path(dest: Path) -> int:
    """Jobs on the longest chain of the DAG (from Snakemake's --d3dag)."""
    import json

    result = subprocess.run(["snakemake", "--d3dag"], cwd=dest, capture_output=True, text=True, check=True)
    graph = json.loads(result.stdout[result.stdout.index("{") :])
    children: dict[int, list[int]] = {}
    for edge in graph["edges"]:
        children.setdefault(edge["u"], []).append(edge["v"])
    depth: dict[int, int] = {}

    def down(node: int) -> int:
        if node not in depth:
            depth[node] = 1 + max((down(child) for child in children.get(node, [])), default=0)
        return depth[node]

    return max(down(node["id"]) for node in graph["nodes"])


def synthetic_records(folder: Path, n: int):
    """``n`` stacks of K2-like records, one every 10 s, as the stages write them: (index, ReportPaths).

    A few stacks stand out (hot-pixel bursts, a high-contrast one every 200), so
    the figures show what they are for.
    """
    from mrczflow.report.session import ReportPaths
    from mrczflow.storage.index import write_index

    rng = np.random.default_rng(2)
    templates = {
        kind: str(folder / "results" / sub / "{stack}.json")
        for kind, sub in (
            ("ingest", "ingest"),
            ("storage", "mrcz"),
            ("outliers", "outliers"),
            ("koma", "koma"),
        )
    }
    for sub in ("ingest", "mrcz", "outliers", "koma", "koma/sums"):
        (folder / "results" / sub).mkdir(parents=True, exist_ok=True)
    rows = []
    start = datetime.datetime(2026, 11, 26, 9)
    for i in range(n):
        stack = f"FoilHole_{31_000_000 + 7919 * i % 100_003}_Data_{i:05d}_fractions"
        stamp = (start + datetime.timedelta(seconds=10 * i)).isoformat()
        rows.append({"order": i, "stack": stack, "time": stamp})
        dose_rate = float(rng.normal(4.0, 0.1))
        record = {
            "stack": stack,
            "timestamp": stamp,
            "dose_rate": dose_rate,
            "dose_per_frame": dose_rate * 0.25,
            "dose_source": "epu",
            "pixel_size": 0.83,
            "pixel_size_from": "epu",
            "voltage": 300.0,
            "format": "tiff",
            "source_dtype": "uint8",
            "shape": [40, 3710, 3838],
        }
        stored = float(rng.normal(1.4e8, 3e6))
        hot = int(rng.poisson(40)) + (int(rng.poisson(300)) if rng.random() < 0.002 else 0)
        high = i % 200 == 57
        spread = float(rng.normal(0.27, 0.004))
        check = {
            "configured": "rotate 0, flip none",
            "best": "rotate 0, flip none",
            "verdict": "right",
            "spreads": {"rotate 0, flip none": spread, "rotate 180, flip none": spread + 0.011},
            "scores": {"rotate 0, flip none": -250.0, "rotate 180, flip none": 0.3},
            "no_gain": spread + 0.005,
            "message": "",
        }
        for kind, value in (
            ("ingest", record),
            ("storage", {"source_bytes": 5.7e8, "mrcz_bytes": stored, "percent_of_entropy_bound": 88.0}),
            (
                "outliers",
                {"hot": hot, "dead": int(rng.poisson(3)), "frames": 40, "gain_check": check, **record},
            ),
            (
                "koma",
                {
                    "correlated_noise_before": float(rng.normal(0.012, 0.002)) + 0.03 * high,
                    "correlated_noise_after": float(rng.normal(0.0012, 0.0003)) + 0.02 * high,
                    "high_contrast": high,
                },
            ),
        ):
            Path(templates[kind].format(stack=stack)).write_text(json.dumps(value))
    write_index(folder / "stacks.tsv", rows)
    mrcz.write(folder / "mask.mrcz", (rng.random((512, 512)) < 1e-3).astype(np.uint8))
    paths = ReportPaths(
        **templates,
        archive=str(folder / "none/{stack}.mrcz"),
        mask=str(folder / "mask.mrcz"),  # the worst stack's mask is drawn: one small mask serves
        screen=str(folder / "results/koma/sums/{stack}.json"),
        sums=str(folder / "none/{stack}.sum.mrcz"),
        half=str(folder / "none/{stack}.half.mrcz"),
        log=str(folder / "logs/{stage}/{stack}.log"),
        benchmark=str(folder / "logs/benchmark/{stage}/{stack}.tsv"),
    )
    return folder / "stacks.tsv", paths


def report_time(folder: Path, n: int) -> float:
    """Seconds the report step takes for ``n`` stacks of (synthetic) records."""
    from mrczflow.report.steps import session_report

    index, paths = synthetic_records(folder, n)
    started = time.perf_counter()
    session_report(index, paths, folder / "report", radius_samples=0)
    return time.perf_counter() - started


@click.command()
@click.option("--small", default=2000, show_default=True)
@click.option("--large", default=20000, show_default=True)
@click.option("--keep", is_flag=True, help="keep the scratch sessions")
def main(small: int, large: int, keep: bool) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        seconds, planning = {}, {}
        for n in (small, large):
            folder = scratch / str(n)
            dest = deploy(folder, session(folder, n))
            seconds[n], jobs = dry_run(dest)
            print(
                f"snakemake -n -q rules, {n:>6} movies: {seconds[n]:7.1f} s ({jobs} jobs, "
                f"{1000 * seconds[n] / n:.2f} ms a movie)"
            )
            planning[n], _ = dry_run(dest, quiet=())
            print(
                f"snakemake -n -q,       {n:>6} movies: {planning[n]:7.1f} s (planning only, no job table; "
                f"{1000 * planning[n] / n:.2f} ms a movie)"
            )
        print(
            f"ratio {large} / {small} movies: {seconds[large] / seconds[small]:.1f} with the job table, "
            f"{planning[large] / planning[small]:.1f} planning only (linear: {large / small:.0f})"
        )
        start, job = job_start(scratch / str(large))
        print(
            f"a job's own Snakemake at {large} movies (every SLURM job step starts one): {job:.1f} s, "
            f"{job / start:.1f}x Snakemake's bare start ({start:.1f} s)"
        )
        for n in (small, large):
            seconds[n], jobs = live_last_pass(scratch / f"live{n}", n)
            print(
                f"a live pass (mrczflow watch) as movie {n:>6} lands: snakemake -n {seconds[n]:6.1f} s ({jobs} jobs)"
            )
        print(
            f"ratio {large} / {small} movies, live pass: {seconds[large] / seconds[small]:.1f} "
            "(it does not grow with the work, only the reading of the session's names)"
        )
        for n in (30, 300):
            folder = scratch / f"depth{n}"
            print(
                f"longest path of the DAG, {n:>3} movies: {longest_path(deploy(folder, session(folder, n)))} jobs"
            )
        print(
            f"session report from the records of {large} stacks: {report_time(scratch / 'report', large):.1f} s"
        )
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
