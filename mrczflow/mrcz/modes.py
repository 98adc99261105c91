"""MRC mode numbers, data types and MRCZ codec ids.

The numbers match MRC2014 and python-mrcz 0.6.0: a compressed file's MODE is
``base_mode + 1000 * codec_id``.

uint8 has no MRC2014 mode. We store it as mode 0 with the IMOD stamp and
imodFlags bit 0 clear, which is IMOD/SerialEM's convention for unsigned bytes.
Readers that ignore the IMOD flags (python-mrcz, mrcfile) see the same bytes as
int8; ``array.view(numpy.uint8)`` gives the counts back exactly.
"""

from __future__ import annotations

import numpy as np

CODEC_STEP = 1000
CODEC_IDS: dict[str, int] = {"blosclz": 1, "lz4": 2, "lz4hc": 3, "zlib": 5, "zstd": 6}
CODEC_NAMES: dict[int, str] = {v: k for k, v in CODEC_IDS.items()}
# Ids python-mrcz knows but this library cannot decode (snappy left c-blosc;
# 7-15 are blosc2 plugins): named so the error can say which codec it was.
FOREIGN_CODECS: dict[int, str] = {
    4: "snappy",
    7: "ndlz",
    8: "zfp_acc",
    9: "zfp_prec",
    10: "zfp_rate",
    11: "openhtj2k",
    12: "grok",
    13: "openzl",
    14: "j2k",
    15: "htj2k",
}

IMOD_STAMP = 1146047817
IMOD_FLAG_SIGNED_BYTES = 1

MODE_INT8 = 0
MODE_UINT4 = 101
# Modes we write (MRC2014, plus 12 = float16 from the 2020 update).
WRITE_MODES: dict[np.dtype, int] = {
    np.dtype(np.uint8): 0,
    np.dtype(np.int8): 0,
    np.dtype(np.int16): 1,
    np.dtype(np.float32): 2,
    np.dtype(np.complex64): 4,
    np.dtype(np.uint16): 6,
    # python-mrcz's int32 (not MRC2014: mrcfile refuses it); exact integer sums such as KOMA's.
    np.dtype(np.int32): 7,
    np.dtype(np.float16): 12,
}
# Modes every MRC2014 reader (mrcfile, IMOD) opens.
STANDARD_DTYPES = tuple(str(d) for d, mode in WRITE_MODES.items() if mode != 7)
# Modes we read. 7/8 are python-mrcz's int32/uint32; 101 is IMOD's packed 4-bit.
READ_MODES: dict[int, np.dtype] = {
    0: np.dtype(np.int8),
    1: np.dtype(np.int16),
    2: np.dtype(np.float32),
    4: np.dtype(np.complex64),
    6: np.dtype(np.uint16),
    7: np.dtype(np.int32),
    8: np.dtype(np.uint32),
    12: np.dtype(np.float16),
    MODE_UINT4: np.dtype(np.uint8),
}
SUPPORTED_DTYPES = tuple(str(d) for d in WRITE_MODES)


def mode_for_dtype(dtype: np.dtype) -> int:
    """Return the MRC base mode for ``dtype``; raise ``TypeError`` if unsupported."""
    dtype = np.dtype(dtype).newbyteorder("=")
    try:
        return WRITE_MODES[dtype]
    except KeyError:
        raise TypeError(
            f"dtype {dtype} cannot be stored in MRC; use one of {', '.join(SUPPORTED_DTYPES)}"
        ) from None
