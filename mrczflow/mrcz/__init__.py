"""MRC2014 and MRCZ (blosc-compressed MRC) files.

On-disk layout and choices are documented in the submodules:
:mod:`.header` (byte map), :mod:`.modes` (mode numbers; how uint8 is stored),
:mod:`.codec` (compression defaults and why), :mod:`.footer` (metadata and
checksums), :mod:`.writer` and :mod:`.reader`.

How our files look to other readers
-----------------------------------
- python-mrcz 0.6.0 reads our MRCZ files (with ``blosc2`` installed) and gets
  the same array, except uint8, which it returns as int8 with the same bytes
  (``.view(numpy.uint8)`` restores it): it has no unsigned-byte mode.
- mrcfile opens our plain MRC files and ``mrcfile.validate`` passes; uint8
  also reads as int8 there. mrcfile cannot open any compressed MRCZ file.

Examples
--------
>>> from mrczflow import mrcz
>>> mrcz.write("movie.mrcz", stack, voxel_size=1.06, dose_per_frame=1.2)
>>> stack = mrcz.read("movie.mrcz")
>>> frame = mrcz.read("movie.mrcz", frames=7)          # decodes only frame 7
>>> with mrcz.MrczWriter("out.mrcz", (ny, nx), "uint8") as w:
...     for frame in frames:
...         w.write_frame(frame)
"""

from .codec import Compression
from .errors import ChecksumError, MrczError
from .header import MrcHeader
from .modes import SUPPORTED_DTYPES
from .reader import MrczReader, read, read_header
from .writer import MrczWriter, write

__all__ = [
    "ChecksumError",
    "Compression",
    "MrcHeader",
    "MrczError",
    "MrczReader",
    "MrczWriter",
    "SUPPORTED_DTYPES",
    "read",
    "read_header",
    "write",
]
