"""Planning a session of many movies: dry-run time against the number of movies, and the DAG's depth.

Writes N tiny movies (2 frames of 8 x 8, EPU-like names that do not sort by
time, each with its .mdoc) into a scratch folder, deploys the workflow there
with its default config and times ``snakemake -n`` (Snakemake's own planning,
no job runs) at 2,000 and 20,000 movies: the times, the jobs planned and the
ratio of the times (linear planning gives about 10x). Then the longest path
of the DAG for 30 and 300 movies (it must not grow with the session), and
the report's build time from the records of 20,000 stacks (the session
report step itself, on synthetic records: every figure and the table).

    python benchmarks/bench_scale.py [--small 2000] [--large 20000] [--keep]
"""

from __future__ import annotations

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
DateTime = 26-Nov-26  {hh:02d}:{mm:02d}:{ss:02d}
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
        seconds = 9 * 3600 + 20 * i
        (movies / f"{name}.mdoc").write_text(
            MDOC.format(name=name, hh=seconds // 3600 % 24, mm=seconds // 60 % 60, ss=seconds % 60)
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


def dry_run(dest: Path) -> tuple[float, int]:
    started = time.perf_counter()
    result = subprocess.run(["snakemake", "-n", "--quiet", "rules"], cwd=dest, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(result.stderr[-2000:])
    totals = re.findall(r"^total\s+(\d+)$", result.stdout, re.M)
    return elapsed, int(totals[-1]) if totals else 0


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


def report_time(folder: Path, n: int) -> float:
    """Seconds the report step takes for ``n`` stacks of (synthetic) records."""
    from mrczflow.report.session import ReportPaths
    from mrczflow.report.steps import session_report
    from mrczflow.storage.names import write_index

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
    for i in range(n):
        stack = f"s{i:05d}"
        rows.append({"order": i, "stack": stack, "time": f"2026-11-26T09:{i // 60 % 60:02d}:{i % 60:02d}"})
        stamp = f"2026-11-26T{9 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        record = {"stack": stack, "timestamp": stamp, "dose_rate": 4.0, "shape": [40, 4096, 4096]}
        for kind, value in (
            ("ingest", record),
            ("storage", {"source_bytes": 6.7e8, "mrcz_bytes": 1.4e8, "percent_of_entropy_bound": 90.0}),
            ("outliers", {"hot": int(rng.poisson(40)), "dead": int(rng.poisson(3)), "frames": 40, **record}),
            (
                "koma",
                {"correlated_noise_before": 0.01, "correlated_noise_after": 0.001, "high_contrast": False},
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
        log=str(folder / "logs/{stage}/{stack}.log"),
        benchmark=str(folder / "logs/benchmark/{stage}/{stack}.tsv"),
    )
    started = time.perf_counter()
    session_report(folder / "stacks.tsv", paths, folder / "report", radius_samples=0)
    return time.perf_counter() - started


@click.command()
@click.option("--small", default=2000, show_default=True)
@click.option("--large", default=20000, show_default=True)
@click.option("--keep", is_flag=True, help="keep the scratch sessions")
def main(small: int, large: int, keep: bool) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench_scale_"))
    try:
        seconds = {}
        for n in (small, large):
            folder = scratch / str(n)
            dest = deploy(folder, session(folder, n))
            seconds[n], jobs = dry_run(dest)
            print(
                f"snakemake -n, {n:>6} movies: {seconds[n]:7.1f} s ({jobs} jobs, {1000 * seconds[n] / n:.2f} ms a movie)"
            )
        print(
            f"ratio {large} / {small} movies: {seconds[large] / seconds[small]:.1f} (linear: {large / small:.0f})"
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
