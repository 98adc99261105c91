"""How a movie was recorded (dose rate, frame time, start time), from its SerialEM ``.mdoc``."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path

from .movies import IngestError


@dataclasses.dataclass
class Exposure:
    """How a movie was recorded: dose rate (e/physical px/s), frame time (s), start time."""

    dose_rate: float | None
    frame_time: float | None
    timestamp: str | None
    source: str


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
        raise IngestError(f"{os.fspath(path)}: unreadable mdoc ({exc})") from None
    row = table.iloc[0]

    def value(name: str) -> float | None:
        return float(row[name]) if name in row and row[name] == row[name] else None

    frames, exposure = value("NumSubFrames"), value("ExposureTime")
    stamp = None
    if "DateTime" in row and isinstance(row["DateTime"], str):
        stamp = dt.datetime.strptime(" ".join(row["DateTime"].split()), "%d-%b-%y %H:%M:%S").isoformat()
    frame_time = exposure / frames if frames and exposure else None
    return Exposure(value("DoseRate"), frame_time, stamp, f"mdoc {os.fspath(path)}")


def measured_dose_rate(mean_counts_per_frame: float, frame_time: float, coincidence: float = 1.0) -> float:
    """Dose rate from the counts themselves: mean counts/frame over frame time (over counting efficiency)."""
    return mean_counts_per_frame / frame_time / coincidence
