"""What protects a file's metadata: a checksum of its header, and a copy of its scientific fields.

Frames carry their own checksums (:mod:`.footer`); this covers what they do
not: the 1024-byte header (shape, mode and data type, voxel size, voltage,
Cs, statistics, labels) and the JSON extended header (data type, dose,
exposure). :func:`header_checksum` hashes every header byte except label 2
(where plain MRC keeps this checksum) together with the extended header's
keys except its pointer to the footer (which the footer's own checksum
protects). :func:`science_fields` is the readable copy stored beside it, so a
mismatch can name the field that changed.

Where they are kept: in the footer of an MRCZ file (``"header_checksum"``,
``"header"``), which the extended header's footer checksum protects; in
labels 2 and 3-10 of a plain MRC file (``mrczflow-header`` and
``mrczflow-fields``), which the header checksum itself covers.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import xxhash

from .errors import MrczError
from .header import HEADER_BYTES, MrcHeader

LABEL_BYTES = 80
LABELS_START = 224
CHECKSUM_LABEL = 1  # 0-based: label 2
CHECKSUM_TAG = "mrczflow-header"
FIELDS_TAG = "mrczflow-fields"
FIELDS_PER_LABEL = LABEL_BYTES - len(FIELDS_TAG) - 1


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("ascii")


def header_checksum(raw_header: bytes, extended: dict[str, Any]) -> str:
    """xxh3-64 of the header bytes (all but label 2) and of the extended header less its footer pointer."""
    start = LABELS_START + CHECKSUM_LABEL * LABEL_BYTES
    body = raw_header[:start] + raw_header[start + LABEL_BYTES : HEADER_BYTES]
    ext = _canonical({key: value for key, value in extended.items() if key != "footer"})
    return f"xxh3_64:{xxhash.xxh3_64_hexdigest(body + ext)}"


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def science_fields(header: MrcHeader, dtype: str, ndim: int, extended: dict[str, Any]) -> dict[str, Any]:
    """The values science depends on, as they read back from the header and extended header."""
    return {
        "shape": list(header.shape),
        "mode": header.mode,
        "codec": header.codec,
        "dtype": dtype,
        "ndim": ndim,
        "voxel_size": [_number(v) for v in header.voxel_size],
        "voltage": _number(header.voltage),
        "cs": _number(header.cs),
        "gain": _number(header.gain),
        "dmin": _number(header.dmin),
        "dmax": _number(header.dmax),
        "dmean": _number(header.dmean),
        "rms": _number(header.rms),
        "dose_per_frame": extended.get("dose_per_frame"),
        "exposure_time": extended.get("exposure_time"),
    }


def field_labels(fields: dict[str, Any]) -> list[str]:
    """``fields`` as compact JSON in 80-character ``mrczflow-fields`` labels (plain MRC)."""
    text = _canonical(fields).decode("ascii")
    return [f"{FIELDS_TAG} {text[i : i + FIELDS_PER_LABEL]}" for i in range(0, len(text), FIELDS_PER_LABEL)]


def read_labels(labels: tuple[str, ...]) -> tuple[str | None, dict[str, Any] | None]:
    """The header checksum and the stored fields a plain MRC of ours keeps in its labels (None if absent).

    A file with any label of ours must have its checksum label intact: a damaged one is reported as
    ``"damaged"``, never taken for a file without a checksum.
    """
    stored = None
    ours = any(label.startswith("mrczflow") for label in labels)
    pieces = []
    for label in labels:
        if label.startswith(CHECKSUM_TAG + " "):
            stored = label.split(" ", 1)[1].strip()
        elif label.startswith(FIELDS_TAG + " "):
            pieces.append(label[len(FIELDS_TAG) + 1 :])
    if ours and (stored is None or not stored.startswith("xxh3_64:")):
        stored = "damaged"
    fields = None
    if pieces:
        try:
            fields = json.loads("".join(pieces))
        except ValueError:
            fields = None
    return stored, fields if isinstance(fields, dict) else None


def check(
    path: str | os.PathLike,
    stored_checksum: str | None,
    stored_fields: dict[str, Any] | None,
    computed_checksum: str,
    current_fields: dict[str, Any],
) -> None:
    """Raise :class:`MrczError` naming the changed fields when the header no longer matches its checksum."""
    if stored_checksum is None or stored_checksum == computed_checksum:
        return
    changed = [
        f"{key} {stored_fields.get(key)!r} -> {current_fields.get(key)!r}"
        for key in sorted(current_fields)
        if isinstance(stored_fields, dict) and stored_fields.get(key) != current_fields.get(key)
    ]
    if changed:
        raise MrczError(path, f"corrupt header: changed since written: {'; '.join(changed)}")
    raise MrczError(path, "corrupt header: its bytes no longer match the checksum stored when it was written")
