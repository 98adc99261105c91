"""Writing small EER movies for tests.

imagecodecs can decode EER but not encode it, and tifffile cannot write its
compression, so tests build the files: each frame's events are encoded as
the EER bitstream (LSB first; per event a 7-bit run of empty pixels and 2+2
sub-pixel bits; a run of all ones continues without an event; the stream
ends on a run that lands on the last pixel), stored as pre-compressed strips,
and the pages' Compression tag is then set to 65001. imagecodecs' decoder is
the oracle that the encoding is right (checked in test_ingest.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import tifffile

RLE_BITS, SUBPIXEL_BITS = 7, 4
EER_XML = b'<metadata><item name="sensorPixelSize">1e-10</item></metadata>'


def encode_frame(events: np.ndarray) -> bytes:
    """EER (compression 65001) bitstream of a 0/1 frame (vectorised: a 4k frame in milliseconds)."""
    longest = (1 << RLE_BITS) - 1
    positions = np.flatnonzero(events.ravel())
    runs = np.diff(positions, prepend=-1) - 1  # empty pixels before each event
    tail = events.size - (int(positions[-1]) + 1 if positions.size else 0)
    # Each event: run // longest codes of all ones, then (run % longest) and 4 sub-pixel bits (0).
    # The tail: tail // longest codes of all ones, then tail % longest if not zero.
    repeats = np.append(runs // longest + 1, tail // longest + (1 if tail % longest else 0))
    values = np.repeat(np.full(repeats.size, longest, np.int64), repeats)
    widths = np.full(values.size, RLE_BITS, np.int64)
    ends = np.cumsum(repeats) - 1  # the last code of each group
    values[ends[:-1]] = runs % longest
    widths[ends[:-1]] = RLE_BITS + SUBPIXEL_BITS
    if tail % longest:
        values[ends[-1]] = tail % longest
    shifts = np.arange(RLE_BITS + SUBPIXEL_BITS)
    table = (values[:, None] >> shifts) & 1  # LSB first
    bits = table[shifts[None, :] < widths[:, None]].astype(np.uint8)
    bits = np.concatenate([bits, np.zeros(-bits.size % 16, np.uint8)])  # whole 16-bit words
    return np.packbits(bits, bitorder="little").tobytes()


def write_eer(path: Path, frames: Iterable[np.ndarray]) -> None:
    """A Falcon-style EER file (BigTIFF, one page per 0/1 frame; ``frames`` may be a generator)."""
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for frame in frames:
            tif.write(
                iter([encode_frame(frame)]),
                shape=frame.shape,
                dtype=np.uint8,
                rowsperstrip=frame.shape[0],  # one strip a frame, as the bitstream is one
                compression="zlib",
                metadata=None,
                extratags=[(65001, 7, len(EER_XML), EER_XML, True)],
            )
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for page in tif.pages:
            page.tags["Compression"].overwrite(65001)
