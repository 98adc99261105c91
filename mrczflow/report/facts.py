"""What a facility asks first, from the session's records: when, how much, what detector, what it cost.

:func:`session_facts` gives the sentences at the top of the report's front
page (time span, movies, frames, dose, pixel size, detector, disk read and
written, software version); :func:`gain_check_lines` sums up each stack's
check of the gain's orientation (:mod:`mrczflow.gain.session_check`).
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import importlib.metadata
import platform

import numpy as np

from .session import Session

#: Frame sizes (rows x columns, either way round) of common detectors, to name what the frames look like.
DETECTOR_SIZES = {
    (3710, 3838): "Gatan K2",
    (7420, 7676): "Gatan K2 super-resolution",
    (4092, 5760): "Gatan K3",
    (8184, 11520): "Gatan K3 super-resolution",
    (4096, 4096): "Falcon 3/4 or another 4k detector",
}


def number(value: float, digits: int = 3) -> str:
    """``value`` to ``digits`` significant figures (whole numbers whole), no exponent for everyday magnitudes."""
    if value == 0 or not np.isfinite(value):
        return f"{value:g}"
    if float(value).is_integer() and abs(value) < 1e6:
        return f"{int(value)}"
    magnitude = int(np.floor(np.log10(abs(value))))
    if -4 <= magnitude < 6:
        text = f"{value:.{max(0, digits - 1 - magnitude)}f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    return f"{value:.{digits - 1}e}"


def span(values: list[float], unit: str, digits: int = 3) -> str:
    """Median of ``values`` with their range when they differ: ``1.02 e/Å² (median; 0.98-1.05)``."""
    low, mid, high = (number(float(v), digits) for v in (min(values), np.median(values), max(values)))
    return f"{mid} {unit}" if low == high else f"{mid} {unit} (median; {low}-{high})"


def size_text(n: float) -> str:
    """``n`` bytes in kB/MB/GB/TB to 3 significant figures."""
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{number(n / size)} {unit}"
    return f"{int(n)} bytes"


def software() -> str:
    """The versions that made the session's outputs."""
    versions = []
    for package in ("mrczflow", "snakemake", "numpy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions.append(f"{package} {importlib.metadata.version(package)}")
    return ", ".join(versions + [f"Python {platform.python_version()}"])


def session_facts(session: Session) -> list[str]:
    """Time span, movies, frames, dose, pixel size, voltage, detector, disk read and written, software."""
    records = [session.ingest[s] for s in session.processed if s in session.ingest]
    facts = []
    stamps = []
    for record in records:
        with contextlib.suppress(TypeError, ValueError):
            stamps.append(datetime.datetime.fromisoformat(record.get("timestamp")))
    if stamps:
        first, last = min(stamps), max(stamps)
        minutes = (last - first).total_seconds() / 60
        duration = f"{minutes:.0f} min" if minutes < 90 else f"{number(minutes / 60, 2)} h"
        facts.append(
            f"Acquired {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} ({duration}), {len(session.stacks)} movies."
        )
    else:
        facts.append(f"{len(session.stacks)} movies (no time stamps in their metadata).")
    shapes = [record["shape"] for record in records if record.get("shape")]
    if shapes:
        frames = [shape[0] for shape in shapes]
        rows, columns = collections.Counter(tuple(shape[1:]) for shape in shapes).most_common(1)[0][0]
        formats = sorted(
            {f"{r.get('format', '?').upper()} {r.get('source_dtype', '')}".strip() for r in records}
        )
        name = DETECTOR_SIZES.get(tuple(sorted((rows, columns))))
        facts.append(
            f"Frames: {span(frames, 'a movie', 1)}, {columns} x {rows} pixels"
            + (f" ({name} size)" if name else "")
            + f", read from {', '.join(formats)}."
        )
    doses = [r["dose_per_frame"] for r in records if r.get("dose_per_frame")]
    if doses:
        per_movie = [r["dose_per_frame"] * r["shape"][0] for r in records if r.get("dose_per_frame")]
        facts.append(
            f"Dose: {span(doses, 'e/Å² a frame')}, {span(per_movie, 'e/Å² a movie')}"
            f" (from {_sources(records, 'dose_source')})."
        )
    sizes = [r["pixel_size"] for r in records if r.get("pixel_size")]
    if sizes:
        voltages = [r["voltage"] for r in records if r.get("voltage")]
        facts.append(
            f"Pixel size: {span(sizes, 'Å')} (from {_sources(records, 'pixel_size_from')})"
            + (f"; {span(voltages, 'kV', 3)}." if voltages else ".")
        )
    totals = session.totals()
    if records:
        disk = (
            f"Disk: read {size_text(totals['source_bytes'])}, archived as {size_text(totals['mrcz_bytes'])}"
        )
        if totals.get("written_bytes"):
            disk += f", {size_text(totals['written_bytes'])} written in all"
        facts.append(disk + ".")
    facts.append(f"Software: {software()}.")
    return facts


def _sources(records: list[dict], key: str) -> str:
    """Where a value came from, by kind of source (``mdoc``, ``epu``, ``config``, ``file header``)."""
    kinds = collections.Counter((r.get(key) or "file header").split(" ")[0] for r in records)
    return ", ".join(f"{kind} ({count})" if len(kinds) > 1 else kind for kind, count in kinds.most_common())


def gain_check_lines(session: Session) -> tuple[list[str], list[str]]:
    """The orientation check of the gain on each stack's sum: one sentence, and what to look at."""
    checks = {s: r["gain_check"] for s, r in session.outliers.items() if r.get("gain_check")}
    if not checks:
        return [], []
    verdicts = collections.Counter(check["verdict"] for check in checks.values())
    configured = collections.Counter(check["configured"] for check in checks.values()).most_common(1)[0][0]
    with_gain = [c["spreads"][c["configured"]] for c in checks.values() if c["configured"] in c["spreads"]]
    without = [c["no_gain"] for c in checks.values()]
    sentence = (
        f"Gain orientation checked on each stack's own sum: {configured} confirmed on "
        f"{verdicts['right']} of {len(checks)} stacks"
    )
    others = [f"{count} {verdict}" for verdict, count in verdicts.items() if verdict != "right"]
    sentence += f" ({', '.join(others)})" if others else ""
    sentence += (
        f"; relative spread of the sums, median: {number(float(np.median(with_gain)))} with the gain, "
        f"{number(float(np.median(without)))} without."
    )
    look_at = []
    wrong = [s for s, c in checks.items() if c["verdict"] == "wrong"]
    if wrong:
        c = checks[wrong[0]]
        look_at.append(
            f"The gain as configured ({c['configured']}) makes {len(wrong)} stack(s) less flat than "
            f"{c['best']} does (relative spread {number(c['spreads'][c['configured']])} vs "
            f"{number(c['spreads'][c['best']])}): set gain.rotate/gain.flip to {c['best']} and rerun. "
            f"First: {', '.join(wrong[:5])}."
        )
    worse = [s for s, c in checks.items() if c["verdict"] == "worse than no gain"]
    if worse:
        c = checks[worse[0]]
        look_at.append(
            f"The gain makes {len(worse)} stack(s) less flat than no gain in every orientation (best "
            f"{c['best']}: {number(c['spreads'][c['best']])} vs {number(c['no_gain'])} without): is it this "
            f"detector's gain? First: {', '.join(worse[:5])}."
        )
    return [sentence], look_at
