"""What a facility manager reads after a session: the data behind ``snakemake --report``.

:func:`collect` reads the per-stack JSON records the stages wrote (never the
movies), the Snakemake benchmark files (seconds per job) and the job logs
(error lines of failed stacks). :func:`anomalous` flags stacks whose outlier
counts stand out from the session; :func:`summary_html` writes the one-page
summary. The figures are drawn by :mod:`mrczflow.reportplots`.

Memory: the records only (a few numbers per stack).
"""

from __future__ import annotations

import csv
import dataclasses
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

STAGES = ("ingest", "compress", "outliers", "koma_sum", "koma")


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
        }

    def throughput(self) -> dict[str, float]:
        """MB/s of each stage: source megabytes over the summed job seconds of that stage."""
        rates = {}
        for stage in STAGES:
            done = [s for s in self.processed if stage in self.seconds.get(s, {})]
            seconds = sum(self.seconds[s][stage] for s in done)
            if done and seconds > 0:
                rates[stage] = sum(self.storage[s]["source_bytes"] for s in done) / 1e6 / seconds
        return rates


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def _benchmark_seconds(path: Path) -> float | None:
    if not path.exists():
        return None
    with path.open() as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return float(rows[-1]["s"]) if rows else None


def error_line(log: Path) -> str | None:
    """The ``error: ...`` line a failed step leaves as its log's verdict (see ``steps.run_guarded``)."""
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    errors = [line for line in lines if line.startswith("error: ")]
    done = any(line.startswith("mrczflow ") and line.endswith(" done") for line in lines)
    return errors[-1] if errors and not done else None


def collect(stacks: list[str], results: Path = Path("results"), logs: Path = Path("logs")) -> Session:
    def per_stack(folder: str, suffix: str) -> dict[str, dict]:
        found = {s: _json(results / folder / f"{s}{suffix}") for s in stacks}
        return {s: r for s, r in found.items() if r is not None}

    seconds: dict[str, dict[str, float]] = {}
    failed: dict[str, str] = {}
    for stack in stacks:
        for stage in STAGES:
            value = _benchmark_seconds(logs / "benchmark" / stage / f"{stack}.tsv")
            if value is not None:
                seconds.setdefault(stack, {})[stage] = value
            line = error_line(logs / stage / f"{stack}.log")
            if line and stack not in failed:
                failed[stack] = f"{stage}: {line}"
    gamma_path = results / "gamma" / "gamma_fit.yaml"
    gamma = None
    if gamma_path.exists():
        import yaml

        gamma = yaml.safe_load(gamma_path.read_text())
    return Session(
        stacks=stacks,
        ingest=per_stack("ingest", ".json"),
        storage=per_stack("mrcz", ".json"),
        outliers=per_stack("outliers", ".json"),
        screen=per_stack("koma/sums", ".json"),
        koma=per_stack("koma", ".json"),
        seconds=seconds,
        failed=failed,
        gamma=gamma,
    )


def anomalous(session: Session, limit: float = 5.0) -> dict[str, str]:
    """Stacks whose hot or dead pixel count is more than ``limit`` robust sigmas from the session's median."""
    flagged: dict[str, str] = {}
    names = [s for s in session.stacks if s in session.outliers]
    if len(names) < 3:
        return flagged
    for kind in ("hot", "dead"):
        values = np.log1p([session.outliers[s][kind] for s in names])
        median = np.median(values)
        spread = 1.4826 * np.median(np.abs(values - median)) or 0.1
        for name, value in zip(names, values, strict=True):
            z = (value - median) / spread
            if abs(z) > limit:
                count = session.outliers[name][kind]
                flagged[name] = (
                    f"{count} {kind} pixels ({'far above' if z > 0 else 'far below'} the session's median)"
                )
    return flagged


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB" if n >= 1e8 else f"{n / 1e6:.3g} MB"


def summary_lines(session: Session) -> dict[str, list[str]]:
    """The summary as plain sentences, by heading (also what the closing note quotes)."""
    totals = session.totals()
    processed = session.processed
    lines: dict[str, list[str]] = {"Session": [], "Look at": []}
    lines["Session"].append(
        f"{len(processed)} of {len(session.stacks)} stacks processed; {len(session.failed)} failed."
    )
    if processed:
        lines["Session"].append(
            f"Data reduced from {_gb(totals['source_bytes'])} to {_gb(totals['mrcz_bytes'])} "
            f"({totals['ratio']:.1f}x smaller), lossless: every frame's checksum is stored with it."
        )
        bounds = [session.storage[s].get("percent_of_entropy_bound") for s in processed]
        bounds = [b for b in bounds if b is not None]
        if bounds:
            lines["Session"].append(
                f"Compression reaches {np.median(bounds):.0f}% of the best any lossless coder can do "
                "(the Poisson entropy bound), median over stacks."
            )
    if session.outliers:
        hot = [r["hot"] for r in session.outliers.values()]
        dead = [r["dead"] for r in session.outliers.values()]
        lines["Session"].append(
            f"Hot pixels per stack: median {np.median(hot):.0f} (range {min(hot)}-{max(hot)}); "
            f"dead: median {np.median(dead):.0f}. They are filled in every corrected movie."
        )
    if session.gamma:
        best = session.gamma.get("orientation", {}).get("best", {})
        lines["Session"].append(
            f"Gain orientation checked against the vacuum references: rotate {best.get('rotate')}, "
            f"flip {best.get('flip')}."
        )
    if session.koma:
        before = np.median(
            [r["correlated_noise_before"] for r in session.koma.values() if not r["high_contrast"]]
        )
        after = np.median(
            [r["correlated_noise_after"] for r in session.koma.values() if not r["high_contrast"]]
        )
        lines["Session"].append(
            f"Correlated noise between frames (fixed-pattern noise), median: {before:.4f} with the gain alone, "
            f"{after:.4f} after outlier filter + KOMA ({before / after:.0f}x lower)."
        )
    for stack, line in session.failed.items():
        lines["Look at"].append(f"{stack} failed: {line}")
    for stack, reason in anomalous(session).items():
        lines["Look at"].append(f"{stack}: {reason}; check the detector or that stack's mask.")
    excluded = [s for s, r in session.screen.items() if r.get("high_contrast")]
    if excluded:
        lines["Look at"].append(
            f"{len(excluded)} high-contrast stacks (carbon or crystalline ice) kept out of KOMA windows: "
            f"{', '.join(excluded)}. Set koma.include to override."
        )
    warnings = [s for s, r in session.ingest.items() if r.get("clipped_pixels")]
    warnings += [s for s, r in session.storage.items() if r.get("clipped_pixels")]
    for stack in sorted(set(warnings)):
        lines["Look at"].append(f"{stack}: counts above 255 were clipped (compress.allow_clipping).")
    if not lines["Look at"]:
        lines["Look at"].append("Nothing: every stack went through every stage.")
    return lines


def summary_html(session: Session) -> str:
    parts = ["<html><head><meta charset='utf-8'><title>Session summary</title></head><body>"]
    for heading, lines in summary_lines(session).items():
        parts.append(f"<h2>{html.escape(heading)}</h2><ul>")
        parts.extend(f"<li>{html.escape(line)}</li>" for line in lines)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


RADII = (1, 2, 4, 8, 12, 16, 20, 25)


def radius_curves(
    session: Session,
    stacks: list[str],
    samples: int,
    gain_template: str | None,
    rotate: int,
    flip: str,
    flags_template: str | None,
    form: str,
) -> tuple[dict[str, list[tuple[int, float]]], float]:
    """Correlated noise vs KOMA radius for up to ``samples`` ordinary stacks, from the session's own prefix files.

    Any radius costs the same: the window sum is two prefix files apart.
    Returns the curves and the mean correlated noise with the gain alone.
    Holds one stack at a time.
    """
    from . import koma, mrcz
    from .gainref import load_gain
    from .komasteps import noise_after, window_correction

    usable = [s for s in stacks if s in session.koma and not session.koma[s]["high_contrast"]]
    if not usable:
        return {}, float("nan")
    picks = [usable[int(i)] for i in np.linspace(0, len(usable) - 1, min(samples, len(usable)))]
    largest = (len(stacks) - 1) // 2
    curves = {}
    for stack in dict.fromkeys(picks):
        index = stacks.index(stack)
        sum_path = f"results/koma/sums/{stack}.sum.mrcz"
        shape = mrcz.read_header(sum_path).shape[-2:]
        gain_path = gain_template.format(stack=stack) if gain_template else None
        gain = load_gain(gain_path, shape, rotate, flip) if gain_path else None
        flags = flags_template.format(stack=stack) if flags_template else None
        points = []
        for radius in [r for r in RADII if r <= largest]:
            lo, hi = koma.window(index, len(stacks), radius)
            fix, _ = window_correction(
                sum_path,
                f"results/koma/prefix/{stacks[lo - 1]}.prefix.mrcz" if lo else None,
                f"results/koma/prefix/{stacks[hi - 1]}.prefix.mrcz",
                stack,
                stacks[lo:hi],
                gain=gain,
                form=form,
            )
            points.append((radius, noise_after(f"results/mrcz/{stack}.mrcz", fix, flags)))
        curves[stack] = points
    baseline = float(np.mean([session.koma[s]["correlated_noise_before"] for s in usable]))
    return curves, baseline
