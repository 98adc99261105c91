"""The MRCZ footer and the extended-header pointer to it.

python-mrcz stores metadata as JSON in the MRC extended header and nothing
after the data. We keep that (so python-mrcz shows our keys) but put only a
small fixed-size JSON block there, space-padded to ``EXT_RESERVED`` bytes:

    {"mrczflow": 1, "dtype": "uint8", "ndim": 3, "checksum": "xxh3_64:...",
     "dose_per_frame": ..., "exposure_time": ...,
     "footer": {"offset": ..., "length": ..., "format": "msgpack", "checksum": "xxh3_64:..."}}

Everything else goes in the footer after the last chunk, in JSON or msgpack
(chosen per file), of any size: the frame index (offset and size of each
chunk), per-frame checksums of the decoded data, the compression settings and
the caller's metadata. A reader finds it from the header alone, without
touching the data; python-mrcz stops after the last chunk and never sees it.
"""

from __future__ import annotations

import json
import os
from typing import Any

import msgpack
import numpy as np
import xxhash

from .errors import MrczError

FORMAT_VERSION = 1
EXT_RESERVED = 1024
FOOTER_FORMATS = ("msgpack", "json")
CHECKSUM_ALGORITHM = "xxh3_64"


def checksum(data: bytes | memoryview | np.ndarray) -> str:
    """Checksum of decoded bytes, as ``"xxh3_64:<16 hex digits>"``."""
    return f"{CHECKSUM_ALGORITHM}:{xxhash.xxh3_64_hexdigest(data)}"


def combined_checksum(frame_checksums: list[str]) -> str:
    """Checksum of a whole file's decoded data: xxh3-64 of its frames' checksums in order.

    Hashing the per-frame hashes instead of the data again keeps the write
    path to one pass over each frame, and any changed frame changes it.
    """
    joined = "".join(c.split(":", 1)[1] for c in frame_checksums).encode("ascii")
    return f"{CHECKSUM_ALGORITHM}-frames:{xxhash.xxh3_64_hexdigest(joined)}"


def _plain(value: Any) -> Any:
    """Make numpy scalars/arrays and paths serialisable."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"metadata value of type {type(value).__name__} cannot be stored")


def encode_footer(footer: dict, fmt: str) -> bytes:
    if fmt == "msgpack":
        return msgpack.packb(footer, default=_plain, use_bin_type=True)
    if fmt == "json":
        return json.dumps(footer, default=_plain, separators=(",", ":")).encode("utf-8")
    raise ValueError(f"unknown metadata format {fmt!r}; choose from {FOOTER_FORMATS}")


def decode_footer(raw: bytes, fmt: str, path: str | os.PathLike) -> dict:
    try:
        if fmt == "msgpack":
            footer = msgpack.unpackb(raw, raw=False, strict_map_key=False)
        elif fmt == "json":
            footer = json.loads(raw.decode("utf-8"))
        else:
            raise MrczError(path, f"corrupt footer: unknown footer format {fmt!r}")
    except (ValueError, msgpack.UnpackException) as exc:
        raise MrczError(path, f"corrupt footer: cannot decode {fmt} ({exc})") from None
    if not isinstance(footer, dict):
        raise MrczError(path, "corrupt footer: not a key/value map")
    return footer


def check_footer(footer: dict, n_frames: int, path: str | os.PathLike) -> None:
    """Each footer entry must have the type and length the writer gives it: anything else is damage."""
    kinds = {"metadata": dict, "compression": dict, "frames": dict, "header": dict, "header_checksum": str}
    for key, kind in kinds.items():
        if key in footer and not isinstance(footer[key], kind):
            raise MrczError(path, f"corrupt footer: {key} is a {type(footer[key]).__name__}")
    frames = footer.get("frames", {})
    for key, kind in (("offsets", int), ("sizes", int), ("checksums", str)):
        values = frames.get(key)
        if key == "checksums" and values is None:
            continue
        if not isinstance(values, list):
            raise MrczError(path, f"corrupt footer: frame {key} are a {type(values).__name__}, not a list")
        if len(values) != n_frames:
            raise MrczError(
                path, f"header says {n_frames} frames but the footer has {len(values)} frame {key}"
            )
        if not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
            raise MrczError(path, f"corrupt footer: frame {key} are not all of type {kind.__name__}")


def encode_extended(ext: dict) -> bytes:
    """JSON pointer block padded with spaces to exactly ``EXT_RESERVED`` bytes."""
    raw = json.dumps(ext, default=_plain, separators=(",", ":")).encode("utf-8")
    if len(raw) > EXT_RESERVED:
        raise ValueError(
            f"header metadata needs {len(raw)} bytes, more than the {EXT_RESERVED} reserved; "
            "put large values in `metadata` (the footer) instead"
        )
    return raw.ljust(EXT_RESERVED, b" ")


def decode_extended(raw: bytes, path: str | os.PathLike) -> dict:
    try:
        ext = json.loads(raw.decode("utf-8").rstrip("\x00 "))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MrczError(path, f"corrupt extended header: not valid JSON ({exc})") from None
    if not isinstance(ext, dict):
        raise MrczError(path, "corrupt extended header: JSON is not a key/value map")
    return ext
