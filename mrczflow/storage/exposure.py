"""How a movie was recorded (dose rate, frame time, start time, frames, pixel size, voltage).

From the sidecar beside the movie: SerialEM's ``.mdoc`` or EPU's ``.xml``
(:func:`sidecar`; ``ingest.dose.source: auto`` takes whichever the movie has).

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

from .errors import IngestError

MDOC_TIME_FORMAT = "%d-%b-%y %H:%M:%S"  # SerialEM's DateTime, once its runs of spaces are folded


@dataclasses.dataclass
class Exposure:
    """How a movie was recorded: dose rate (e/physical px/s), frame time (s), start time."""

    dose_rate: float | None
    frame_time: float | None
    timestamp: str | None
    source: str
    frames: int | None = None
    exposure_time: float | None = None  # s, whole movie (EPU: frame time = this over the movie's frames)
    pixel_size: float | None = None  # Angstrom
    voltage: float | None = None  # kV


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
    return Exposure(
        dose_rate,
        frame_time,
        stamp,
        f"mdoc {os.fspath(path)}",
        frames,
        exposure_time=exposure,
        pixel_size=positive(path, "PixelSpacing", value("PixelSpacing")),
        voltage=positive(path, "Voltage", value("Voltage")),
    )


# EPU names a movie after its XML with a suffix: FoilHole_1_Data_2_3_20240901_060117_fractions.tiff
# (or _EER.eer) beside FoilHole_1_Data_2_3_20240901_060117.xml.
EPU_SUFFIXES = ("_fractions", "_Fractions", "_EER")
MOVIE_EXTENSIONS = (".tiff", ".tif", ".eer", ".mrcs", ".mrc", ".mrcz")


def epu_xml_path(movie: str | os.PathLike) -> Path:
    """EPU's metadata file for a movie: its name less the extension and the ``_fractions``/``_EER`` suffix, ``.xml``."""
    movie = Path(movie)
    stem = movie.name
    for extension in MOVIE_EXTENSIONS:
        if stem.lower().endswith(extension):
            stem = stem[: -len(extension)]
            break
    for suffix in EPU_SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return movie.with_name(stem + ".xml")


SIDECAR_SOURCES = ("mdoc", "epu", "auto")


def sidecar(movie: str | os.PathLike, source: str) -> Path | None:
    """The metadata file beside ``movie`` that ``source`` reads (auto: the .mdoc, else the EPU .xml), or None."""
    candidates = {"mdoc": [mdoc_path(movie)], "epu": [epu_xml_path(movie)]}
    candidates["auto"] = candidates["mdoc"] + candidates["epu"]
    return next((path for path in candidates[source] if path.is_file()), None)


def exposure_from_sidecar(path: str | os.PathLike) -> Exposure:
    """:func:`exposure_from_mdoc` or :func:`exposure_from_epu`, by the file's extension."""
    return exposure_from_epu(path) if os.fspath(path).lower().endswith(".xml") else exposure_from_mdoc(path)


def _epu_time(text: str) -> str:
    """EPU's ``acquisitionDateTime`` (ISO 8601, 7 fraction digits, a UTC offset) as the local wall time."""
    text = text.strip()
    main, _, rest = text.partition(".")
    digits = "".join(c for c in rest if c.isdigit())
    zone = rest[len(digits) :]
    fraction = f".{digits[:6]}" if digits else ""
    return dt.datetime.fromisoformat(main + fraction + zone).replace(tzinfo=None).isoformat()


def exposure_from_epu(path: str | os.PathLike) -> Exposure:
    """Dose rate, exposure time, time stamp, pixel size and voltage from EPU's per-movie ``.xml``.

    Read with :mod:`xml.etree.ElementTree`, namespaces ignored: the dose rate
    is ``Detectors[<camera>].DoseRate`` of ``CustomData`` (e/px/s; the camera
    is ``BinaryResult.Detector``), the exposure ``camera/ExposureTime`` (s), the
    time ``acquisitionDateTime``, the pixel size ``SpatialScale/pixelSize/x``
    (m) and the voltage ``gun/AccelerationVoltage`` (V).
    """
    from xml.etree import ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except FileNotFoundError:
        raise IngestError(
            f"{os.fspath(path)}: EPU .xml not found; set ingest.dose.source to config"
        ) from None
    except (ElementTree.ParseError, OSError) as exc:
        raise IngestError(f"{os.fspath(path)}: unreadable EPU .xml ({exc})") from None

    def text(tag_path: str) -> str | None:
        found = root.find(tag_path)
        return found.text if found is not None and found.text else None

    custom = {}
    for item in root.iterfind(".//{*}CustomData/{*}KeyValueOfstringanyType"):
        key, value = item.find("{*}Key"), item.find("{*}Value")
        if key is not None and key.text and value is not None:
            custom[key.text] = value.text
    camera = custom.get("BinaryResult.Detector") or text(".//{*}acquisition/{*}camera/{*}Name")
    rate = custom.get(f"Detectors[{camera}].DoseRate") if camera else None
    if rate is None:  # one camera: take its rate whatever its name
        rates = [v for k, v in custom.items() if k.startswith("Detectors[") and k.endswith("].DoseRate")]
        rate = rates[0] if len(rates) == 1 else None
    stamp = text(".//{*}acquisitionDateTime")
    if stamp is not None:
        try:
            stamp = _epu_time(stamp)
        except ValueError:
            raise IngestError(f"{os.fspath(path)}: acquisitionDateTime = {stamp!r} is not a date") from None
    pixel = positive(path, "pixelSize", text(".//{*}SpatialScale/{*}pixelSize/{*}x/{*}numericValue"))
    volts = positive(path, "AccelerationVoltage", text(".//{*}gun/{*}AccelerationVoltage"))
    return Exposure(
        positive(path, f"Detectors[{camera}].DoseRate", rate),
        None,
        stamp,
        f"epu {os.fspath(path)}",
        None,
        exposure_time=positive(path, "ExposureTime", text(".//{*}acquisition/{*}camera/{*}ExposureTime")),
        pixel_size=None if pixel is None else pixel * 1e10,
        voltage=None if volts is None else volts / 1000,
    )


def measured_dose_rate(mean_counts_per_frame: float, frame_time: float, coincidence: float = 1.0) -> float:
    """Dose rate from the counts themselves: mean counts/frame over frame time (over counting efficiency)."""
    return mean_counts_per_frame / frame_time / coincidence
