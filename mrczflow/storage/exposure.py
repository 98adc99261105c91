"""How a movie was recorded (dose rate, frame time, start time, frames), from its SerialEM ``.mdoc``.

Every value read from a file is checked as the config schema checks the same
value typed by hand (a dose rate, exposure or pixel size must be a finite
number above 0, a frame count a whole number above 0): an impossible value
stops that movie with one line naming the file, the field and the value, and
never reaches the archive's permanent metadata.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import os
from pathlib import Path

from .movies import IngestError

MDOC_TIME_FORMAT = "%d-%b-%y %H:%M:%S"  # SerialEM's DateTime, once its runs of spaces are folded


@dataclasses.dataclass
class Exposure:
    """How a movie was recorded: dose rate (e/physical px/s), frame time (s), start time."""

    dose_rate: float | None
    frame_time: float | None
    timestamp: str | None
    source: str
    frames: int | None = None


def positive(path: str | os.PathLike, field: str, value: object) -> float | None:
    """``value`` as a finite number above 0 (None stays None); else an :class:`IngestError` naming it."""
    if value is None:
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise IngestError(
            f"{os.fspath(path)}: {field} = {value!r} is impossible (must be a finite number > 0)"
        )
    return number


def whole_count(path: str | os.PathLike, field: str, value: object) -> int | None:
    """``value`` as a whole number above 0 (None stays None); else an :class:`IngestError` naming it."""
    number = positive(path, field, value)
    if number is None:
        return None
    if number != int(number):
        raise IngestError(
            f"{os.fspath(path)}: {field} = {value!r} is impossible (must be a whole number > 0)"
        )
    return int(number)


def mdoc_path(movie: str | os.PathLike) -> Path:
    """SerialEM's sidecar for a movie: ``movie.tif.mdoc`` (or ``movie.mdoc``)."""
    movie = Path(movie)
    beside = movie.with_name(movie.name + ".mdoc")
    return beside if beside.exists() else movie.with_suffix(".mdoc")


def exposure_from_mdoc(path: str | os.PathLike) -> Exposure:
    """Dose rate, frame time and time stamp from a SerialEM frame-set ``.mdoc``."""
    import mdocfile  # pandas: imported only where needed

    try:
        table = mdocfile.read(path)
    except FileNotFoundError:
        raise IngestError(
            f"{os.fspath(path)}: mdoc sidecar not found; set ingest.dose.source to config"
        ) from None
    except Exception as exc:  # mdocfile/pydantic raise many kinds on malformed files
        reason = " ".join(str(exc).split())  # pydantic's message spans lines: one line in a log
        raise IngestError(f"{os.fspath(path)}: unreadable mdoc ({reason})") from None
    if len(table) == 0:
        raise IngestError(f"{os.fspath(path)}: mdoc has no frame-set section (empty or cut short)")
    row = table.iloc[0]

    def value(name: str) -> object | None:
        return row[name] if name in row and row[name] == row[name] else None

    frames = whole_count(path, "NumSubFrames", value("NumSubFrames"))
    exposure = positive(path, "ExposureTime", value("ExposureTime"))
    dose_rate = positive(path, "DoseRate", value("DoseRate"))
    stamp = None
    if isinstance(value("DateTime"), str):
        try:
            stamp = dt.datetime.strptime(" ".join(row["DateTime"].split()), MDOC_TIME_FORMAT).isoformat()
        except ValueError:
            raise IngestError(f"{os.fspath(path)}: DateTime = {row['DateTime']!r} is not a date") from None
    frame_time = exposure / frames if frames and exposure else None
    return Exposure(dose_rate, frame_time, stamp, f"mdoc {os.fspath(path)}", frames)


def measured_dose_rate(mean_counts_per_frame: float, frame_time: float, coincidence: float = 1.0) -> float:
    """Dose rate from the counts themselves: mean counts/frame over frame time (over counting efficiency)."""
    return mean_counts_per_frame / frame_time / coincidence
