"""The session's records, gathered for the report.

:func:`collect` reads the per-stack JSON records the stages wrote (never the
movies), the Snakemake benchmark files (seconds per job) and the job logs
(error lines of failed stacks), each from where :class:`ReportPaths` says
(the rule gives those places). :func:`anomalous` flags stacks whose outlier
counts stand out from the session.

Memory: the records only (a few numbers per stack).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import fnmatch
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..jobs import error_line

STAGES = ("ingest", "outliers", "koma_sum", "koma")


@dataclasses.dataclass(frozen=True)
class ReportPaths:
    """Where each record of a stack is: templates with ``{stack}`` (and ``{stage}`` for logs).

    The rule ``session_report`` fills these from its own input and log paths.
    """

    ingest: str
    storage: str
    archive: str
    outliers: str
    mask: str
    screen: str
    sums: str
    half: str  # ingest's half sums: the radius curve scores on them
    koma: str
    log: str
    benchmark: str
    gamma: str | None = None

    def of(self, kind: str, stack: str, stage: str | None = None) -> Path:
        return Path(getattr(self, kind).format(stack=stack, stage=stage))


@dataclasses.dataclass
class Session:
    """Per-stack records of every stage, keyed by stack name (missing stages are empty dicts)."""

    stacks: list[str]
    ingest: dict[str, dict]
    storage: dict[str, dict]
    outliers: dict[str, dict]
    screen: dict[str, dict]
    koma: dict[str, dict]
    seconds: dict[str, dict[str, float]]
    failed: dict[str, str]
    gamma: dict[str, Any] | None = None
    refused: dict[str, str] = dataclasses.field(default_factory=dict)
    written_bytes: int | None = None  # every file under results/, the archive included
    live: Any = None  # report.live.LiveProgress of a session run by mrczflow watch

    @property
    def processed(self) -> list[str]:
        return [s for s in self.stacks if s in self.storage]

    def totals(self) -> dict[str, float]:
        source = sum(self.storage[s]["source_bytes"] for s in self.processed)
        stored = sum(self.storage[s]["mrcz_bytes"] for s in self.processed)
        return {
            "source_bytes": source,
            "mrcz_bytes": stored,
            "ratio": source / stored if stored else float("nan"),
            "written_bytes": self.written_bytes,
        }

    def movies_per_minute(self) -> dict[str, float]:
        """Movies a minute on one core, per stage and for all stages together (median job seconds)."""
        rates = {}
        for stage in STAGES:
            seconds = [self.seconds[s][stage] for s in self.processed if stage in self.seconds.get(s, {})]
            if seconds and np.median(seconds) > 0:
                rates[stage] = 60 / float(np.median(seconds))
        totals = [sum(self.seconds[s].values()) for s in self.processed if self.seconds.get(s)]
        if totals and np.median(totals) > 0:
            rates["all stages"] = 60 / float(np.median(totals))
        return rates

    def throughput(self) -> dict[str, float]:
        """MB/s of each stage: source megabytes over the summed job seconds of that stage."""
        rates = {}
        for stage in STAGES:
            done = [s for s in self.processed if stage in self.seconds.get(s, {})]
            seconds = sum(self.seconds[s][stage] for s in done)
            if done and seconds > 0:
                rates[stage] = sum(self.storage[s]["source_bytes"] for s in done) / 1e6 / seconds
        return rates


def pace(session: Session) -> dict[str, float | None]:
    """Does the pipeline keep up? Movies a minute the microscope acquired and the pipeline processes.

    ``acquired``: from the movies' time stamps (first to last), None without
    them. ``per_core``: :meth:`Session.movies_per_minute` of all stages, the
    rate of one core; ``cores_needed``: cores to keep up.
    """
    stamps = []
    for stack in session.processed:
        with contextlib.suppress(TypeError, ValueError):
            stamps.append(datetime.datetime.fromisoformat(session.ingest.get(stack, {}).get("timestamp")))
    span = (max(stamps) - min(stamps)).total_seconds() if len(stamps) > 1 else 0.0
    acquired = 60 * (len(stamps) - 1) / span if span > 0 else None
    per_core = session.movies_per_minute().get("all stages")
    needed = acquired / per_core if acquired and per_core else None
    return {
        "acquired_per_minute": acquired,
        "processed_per_minute_per_core": per_core,
        "cores_needed": needed,
    }


def disk_written(root: str | Path, temporary: Sequence[str] = ()) -> int:
    """Bytes of every file under ``root`` (the session's results): what the session keeps on disk.

    Files matching a glob of ``temporary`` (relative to ``root``, e.g.
    ``gain/*.gain.mrc``) are deleted after the report and not counted.
    """
    total = 0
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if any(fnmatch.fnmatch(os.path.relpath(path, root), pattern) for pattern in temporary):
                continue
            with contextlib.suppress(OSError):  # a file removed while we walk (a temporary one)
                total += os.stat(path).st_size
    return total


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _benchmark_seconds(path: Path) -> float | None:
    if not path.exists():
        return None
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return float(rows[-1]["s"]) if rows else None


def collect(stacks: list[str], paths: ReportPaths) -> Session:
    """Every record of ``stacks`` (in acquisition order) that exists; failed jobs from their logs."""

    def per_stack(kind: str) -> dict[str, dict]:
        found = {s: _json(paths.of(kind, s)) for s in stacks}
        return {s: r for s, r in found.items() if r is not None}

    seconds: dict[str, dict[str, float]] = {}
    failed: dict[str, str] = {}
    for stack in stacks:
        for stage in STAGES:
            value = _benchmark_seconds(paths.of("benchmark", stack, stage))
            if value is not None:
                seconds.setdefault(stack, {})[stage] = value
            line = error_line(paths.of("log", stack, stage), unfinished=True)
            if line and stack not in failed:
                failed[stack] = f"{stage}: {line}"
    gamma_path = Path(paths.gamma) if paths.gamma else None
    gamma = None
    if gamma_path is not None and gamma_path.exists():
        import yaml

        gamma = yaml.safe_load(gamma_path.read_text())
    return Session(
        stacks=stacks,
        ingest=per_stack("ingest"),
        storage=per_stack("storage"),
        outliers=per_stack("outliers"),
        screen=per_stack("screen"),
        koma=per_stack("koma"),
        seconds=seconds,
        failed=failed,
        gamma=gamma,
    )


def anomalous(session: Session, limit: float = 5.0) -> dict[str, str]:
    """Stacks whose hot or dead pixel count is beyond what noise gives, and far from the session's median.

    Far: more than ``limit`` robust sigmas of the session's (log) counts from
    its median. Beyond noise: the count differs from the median by more than
    ``limit`` Poisson sigmas of the median count plus the stack's expected
    false flags (its stats' ``expected_false_hot/dead``), so a handful of
    noise flags is never an anomaly. Fewer dead pixels where the dose allows
    no dead call (``dead_detectable_fraction`` < 1) is expected, not an anomaly.
    """
    flagged: dict[str, str] = {}
    names = [s for s in session.stacks if s in session.outliers]
    if len(names) < 3:
        return flagged
    for kind in ("hot", "dead"):
        counts = [session.outliers[s][kind] for s in names]
        values = np.log1p(counts)
        median = np.median(values)
        typical = float(np.expm1(median))
        spread = 1.4826 * np.median(np.abs(values - median)) or 0.1
        for name, value, count in zip(names, values, counts, strict=True):
            record = session.outliers[name]
            z = (value - median) / spread
            expected = float(record.get(f"expected_false_{kind}") or 0.0)
            beyond_noise = abs(count - typical) > limit * np.sqrt(typical + expected + 1.0)
            blind = (
                kind == "dead" and z < 0 and float(record.get("dead_detectable_fraction", 1.0) or 0.0) < 0.99
            )
            if abs(z) > limit and beyond_noise and not blind:
                flagged[name] = (
                    f"{count} {kind} pixels ({'far above' if z > 0 else 'far below'} the session's median)"
                )
    return flagged
