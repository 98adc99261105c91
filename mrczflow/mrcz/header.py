"""The 1024-byte MRC2014 header, as python-mrcz 0.6.0 lays it out for MRCZ.

Byte map (little-endian on write; big-endian files are read)::

    0   NX NY NZ            int32   frame width, height, number of frames
    12  MODE                int32   base mode + 1000 * codec id (0 = not compressed)
    28  MX MY MZ            int32   MX=NX, MY=NY; MZ=1 for plain stacks (mrcfile's
                                    convention), MZ=0 for MRCZ so python-mrcz returns
                                    one array instead of a list of frames
    40  CELLA               float32 voxel size * (MX, MY, MZ or NZ), in Angstrom
    76  DMIN DMAX DMEAN     float32 (DMEAN < DMIN marks "not computed", per MRC2014)
    92  NSYMBT              int32   bytes of extended header (our JSON pointer block)
    104 EXTTYP              char[4] "json" when the extended header is JSON
    108 NVERSION            int32   20141
    132 voltage C3 gain     float32 kV, mm, counts per electron (python-mrcz)
    144 packed bytes        int64   total compressed bytes (python-mrcz, informational)
    152 imodStamp imodFlags int32   IMOD convention: flags bit 0 clear = unsigned bytes
    208 "MAP "              machine stamp at 212
    216 RMS                 float32 (< 0: not computed)
    220 NLABL + 10 labels of 80 characters
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from .errors import MrczError
from .modes import (
    CODEC_NAMES,
    CODEC_STEP,
    FOREIGN_CODECS,
    IMOD_FLAG_SIGNED_BYTES,
    IMOD_STAMP,
    MODE_INT8,
    READ_MODES,
)

HEADER_BYTES = 1024
NVERSION = 20141
MAX_DIMENSION = 1 << 20

_FIELDS = [
    ("nx", "i4"),
    ("ny", "i4"),
    ("nz", "i4"),
    ("mode", "i4"),
    ("nxstart", "i4"),
    ("nystart", "i4"),
    ("nzstart", "i4"),
    ("mx", "i4"),
    ("my", "i4"),
    ("mz", "i4"),
    ("cella", "3f4"),
    ("cellb", "3f4"),
    ("mapc", "i4"),
    ("mapr", "i4"),
    ("maps", "i4"),
    ("dmin", "f4"),
    ("dmax", "f4"),
    ("dmean", "f4"),
    ("ispg", "i4"),
    ("nsymbt", "i4"),
    ("extra1", "V8"),
    ("exttyp", "S4"),
    ("nversion", "i4"),
    ("extra2", "V20"),
    ("voltage", "f4"),
    ("cs", "f4"),
    ("gain", "f4"),
    ("packed_bytes", "i8"),
    ("imod_stamp", "i4"),
    ("imod_flags", "i4"),
    ("extra3", "V36"),
    ("origin", "3f4"),
    ("map", "S4"),
    ("machst", "4u1"),
    ("rms", "f4"),
    ("nlabl", "i4"),
    ("label", "(10,)S80"),
]
HEADER_DTYPE = np.dtype([(name, "<" + fmt) for name, fmt in _FIELDS])
assert HEADER_DTYPE.itemsize == HEADER_BYTES


@dataclasses.dataclass
class MrcHeader:
    """What the 1024-byte header says, decoded.

    Attributes
    ----------
    shape
        ``(nz, ny, nx)``: frames, rows, columns.
    dtype
        Data type of the decoded frames (native byte order).
    codec
        Compression codec name, or ``None`` for plain MRC.
    voxel_size
        ``(x, y, z)`` in Angstrom; 0 where the file does not say.
    voltage, cs, gain
        Microscope kV, spherical aberration (mm), counts per electron.
    dmin, dmax, dmean, rms
        Statistics as stored; ``None`` where the file marks them not computed.
    ext_bytes
        Length of the extended header; the data start at ``1024 + ext_bytes``.
    exttyp
        Extended header type, e.g. ``"json"``.
    labels
        Text labels in use.
    byte_order
        ``"<"`` or ``">"``: byte order of the header and the data.
    mode
        Base MRC mode (without the codec part).
    packed_bytes
        Compressed data size written by python-mrcz-compatible writers (informational).
    """

    shape: tuple[int, int, int]
    dtype: np.dtype
    codec: str | None = None
    voxel_size: tuple[float, float, float] = (0.0, 0.0, 0.0)
    voltage: float = 0.0
    cs: float = 0.0
    gain: float = 1.0
    dmin: float | None = None
    dmax: float | None = None
    dmean: float | None = None
    rms: float | None = None
    ext_bytes: int = 0
    exttyp: str = ""
    labels: tuple[str, ...] = ()
    byte_order: str = "<"
    mode: int = 0
    packed_bytes: int = 0

    @property
    def frame_bytes(self) -> int:
        """Bytes of one decoded frame as stored (packed 4-bit frames are half size)."""
        nz, ny, nx = self.shape
        if self.mode == 101:
            return ny * ((nx + 1) // 2)
        return ny * nx * self.dtype.itemsize

    @property
    def data_offset(self) -> int:
        return HEADER_BYTES + self.ext_bytes


def unpack_header(raw: bytes, path: str | os.PathLike) -> MrcHeader:
    """Decode the first 1024 bytes of ``path``; raise :class:`MrczError` if they are not MRC."""
    if len(raw) < HEADER_BYTES:
        raise MrczError(path, f"truncated: {len(raw)} bytes, shorter than the 1024-byte MRC header")
    fields = np.frombuffer(raw[:HEADER_BYTES], dtype=HEADER_DTYPE)[0]
    swapped = np.frombuffer(raw[:HEADER_BYTES], dtype=HEADER_DTYPE.newbyteorder(">"))[0]
    has_map = bytes(fields["map"]) == b"MAP "
    if int(fields["machst"][0]) == 0x11 or (not _plausible(fields) and _plausible(swapped)):
        fields, byte_order = swapped, ">"
    else:
        byte_order = "<"
    if not has_map and not _plausible(fields):
        raise MrczError(
            path, "not an MRC file (no 'MAP ' stamp and no plausible dimensions/mode in the header)"
        )
    dims = [int(fields[k]) for k in ("nx", "ny", "nz")]
    if not all(0 < d <= MAX_DIMENSION for d in dims):
        raise MrczError(path, f"corrupt header: dimensions NX, NY, NZ = {dims}")
    nx, ny, nz = (int(fields["nx"]), int(fields["ny"]), int(fields["nz"]))
    mode_field = int(fields["mode"])
    codec_id, mode = divmod(mode_field, CODEC_STEP)
    if mode not in READ_MODES:
        raise MrczError(
            path, f"unknown MRC mode {mode} (MODE field {mode_field}); known: {sorted(READ_MODES)}"
        )
    if codec_id and codec_id not in CODEC_NAMES:
        name = FOREIGN_CODECS.get(codec_id, "unknown")
        raise MrczError(path, f"unsupported MRCZ codec id {codec_id} ({name}) in MODE {mode_field}")
    dtype = READ_MODES[mode]
    imod_signed = int(fields["imod_flags"]) & IMOD_FLAG_SIGNED_BYTES
    if mode == MODE_INT8 and int(fields["imod_stamp"]) == IMOD_STAMP and not imod_signed:
        dtype = np.dtype(np.uint8)
    ext_bytes = int(fields["nsymbt"])
    if ext_bytes < 0:
        raise MrczError(path, f"corrupt header: negative extended-header length {ext_bytes}")
    cella = [float(c) for c in fields["cella"]]
    sampling = [int(fields["mx"]) or nx, int(fields["my"]) or ny, int(fields["mz"]) or nz]
    voxel = tuple(c / m if m > 0 else 0.0 for c, m in zip(cella, sampling, strict=True))
    dmin, dmax, dmean, rms = (float(fields[k]) for k in ("dmin", "dmax", "dmean", "rms"))
    nlabl = max(0, min(10, int(fields["nlabl"])))
    labels = tuple(bytes(lbl).decode("ascii", "replace").rstrip("\x00 ") for lbl in fields["label"][:nlabl])
    return MrcHeader(
        shape=(nz, ny, nx),
        dtype=dtype,
        codec=CODEC_NAMES.get(codec_id),
        voxel_size=voxel,  # type: ignore[arg-type]
        voltage=float(fields["voltage"]),
        cs=float(fields["cs"]),
        gain=float(fields["gain"]),
        dmin=None if dmax < dmin else dmin,
        dmax=None if dmax < dmin else dmax,
        dmean=None if dmean < min(dmin, dmax) else dmean,
        rms=None if rms < 0 else rms,
        ext_bytes=ext_bytes,
        exttyp=bytes(fields["exttyp"]).decode("ascii", "replace").rstrip("\x00 "),
        labels=labels,
        byte_order=byte_order,
        mode=mode,
        packed_bytes=int(fields["packed_bytes"]),
    )


def _plausible(fields: np.void) -> bool:
    dims_ok = all(0 < int(fields[k]) <= MAX_DIMENSION for k in ("nx", "ny", "nz"))
    mode_ok = int(fields["mode"]) % CODEC_STEP in READ_MODES and 0 <= int(fields["mode"]) < 16000
    return dims_ok and mode_ok


def pack_header(header: MrcHeader, *, compressed: bool) -> bytes:
    """Encode ``header`` as 1024 little-endian bytes.

    ``compressed`` chooses MZ: 0 so python-mrcz returns one array, or 1 as
    mrcfile and MRC2014 expect for a plain image stack.
    """
    from .modes import CODEC_IDS, mode_for_dtype

    nz, ny, nx = header.shape
    fields = np.zeros((), dtype=HEADER_DTYPE)
    fields["nx"], fields["ny"], fields["nz"] = nx, ny, nz
    mode = mode_for_dtype(header.dtype)
    fields["mode"] = mode + (CODEC_STEP * CODEC_IDS[header.codec] if header.codec else 0)
    mz = 0 if compressed else 1
    fields["mx"], fields["my"], fields["mz"] = nx, ny, mz
    vx, vy, vz = header.voxel_size
    fields["cella"] = (vx * nx, vy * ny, vz * (mz or nz))
    fields["cellb"] = (90.0, 90.0, 90.0)
    fields["mapc"], fields["mapr"], fields["maps"] = 1, 2, 3
    fields["ispg"] = 0
    if header.dmin is None or header.dmax is None:
        fields["dmin"], fields["dmax"] = 0.0, -1.0
    else:
        fields["dmin"], fields["dmax"] = header.dmin, header.dmax
    fields["dmean"] = header.dmean if header.dmean is not None else -2.0
    if header.dmean is None and header.dmin is not None:
        fields["dmean"] = header.dmin - 1.0
    fields["rms"] = header.rms if header.rms is not None else -1.0
    fields["nsymbt"] = header.ext_bytes
    fields["exttyp"] = header.exttyp.encode("ascii")
    fields["nversion"] = NVERSION
    fields["voltage"], fields["cs"], fields["gain"] = header.voltage, header.cs, header.gain
    fields["packed_bytes"] = header.packed_bytes
    if mode == MODE_INT8:
        fields["imod_stamp"] = IMOD_STAMP
        signed = np.dtype(header.dtype) == np.dtype(np.int8)
        fields["imod_flags"] = IMOD_FLAG_SIGNED_BYTES if signed else 0
    fields["map"] = b"MAP "
    fields["machst"] = (0x44, 0x44, 0, 0)
    labels = [lbl.encode("ascii")[:80] for lbl in header.labels[:10]]
    fields["nlabl"] = len(labels)
    for i, lbl in enumerate(labels):
        fields["label"][i] = lbl.ljust(80)
    return fields.tobytes()
