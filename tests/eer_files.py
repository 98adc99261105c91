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

from pathlib import Path

import numpy as np
import tifffile

RLE_BITS, SUBPIXEL_BITS = 7, 4
EER_XML = b'<metadata><item name="sensorPixelSize">1e-10</item></metadata>'


def encode_frame(events: np.ndarray) -> bytes:
    """EER (compression 65001) bitstream of a 0/1 frame."""
    bits: list[int] = []

    def put(value: int, count: int) -> None:
        bits.extend((value >> i) & 1 for i in range(count))

    longest = (1 << RLE_BITS) - 1
    position = 0
    for index in np.flatnonzero(events.ravel()):
        run = int(index) - position
        while run >= longest:
            put(longest, RLE_BITS)
            run -= longest
        put(run, RLE_BITS)
        put(0, SUBPIXEL_BITS)
        position = int(index) + 1
    remaining = events.size - position
    while remaining >= longest:
        put(longest, RLE_BITS)
        remaining -= longest
    if remaining:
        put(remaining, RLE_BITS)
    bits.extend([0] * (-len(bits) % 16))  # the decoder reads whole 16-bit words
    return np.packbits(np.array(bits, np.uint8), bitorder="little").tobytes()


def write_eer(path: Path, frames: np.ndarray) -> None:
    """A Falcon-style EER file (BigTIFF, one page per 0/1 frame)."""
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        for frame in frames:
            tif.write(
                iter([encode_frame(frame)]),
                shape=frame.shape,
                dtype=np.uint8,
                compression="zlib",
                metadata=None,
                extratags=[(65001, 7, len(EER_XML), EER_XML, True)],
            )
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for page in tif.pages:
            page.tags["Compression"].overwrite(65001)
