"""Blosc compression of single frames: settings, defaults and chunk checks.

Defaults, measured on the project's 2-core machine (K2-size uint8 Poisson
frames, page cache; ``benchmarks/bench_mrcz.py`` reprints them):

- codec ``zstd`` level 1: level 3 was no smaller and half as fast to write.
- filter ``bitshuffle``: at 0.1-2 e/px/frame it beats no-shuffle by far
  (e.g. 5.64x vs 4.05x at 0.5). At >= 4 e/px/frame no-shuffle compresses
  better (96% vs 89% of the entropy bound) but writes 2x slower;
  ``shuffle="auto"`` picks per stack from the first frame's mean.
- block size 1 MiB: 92.7-94.4% of the Poisson entropy bound at 0.5-2
  e/px/frame against 89-90% with 256 KiB, and faster to read. python-mrcz
  forces 64 KiB (87-89%).
- threads: all cores the process may use.

Chunks are written in the blosc2 format (version 5), which python-mrcz 0.6.0
reads when the ``blosc2`` package is installed, as it is with ours. Every
parameter is passed on every call: python-mrcz changes blosc's global block
size and leaves it set, so nothing here may rely on blosc's global state.

Chunks are written and read with imagecodecs' build of the C library. The
``blosc2`` package writes the same chunks (the same size, decoded alike; only
the slot of the shuffle filter in the header differs) as fast, but importing
it takes 0.7 s (numexpr, asyncio, an HTTP client) against imagecodecs' near
nothing, and every job that writes a mask, a sum or an archive paid it.
Both release the GIL while they work, so frames compress in parallel threads.
"""

from __future__ import annotations

import dataclasses
import os
import struct

import imagecodecs
import numpy as np

from .modes import CODEC_IDS

DEFAULT_CODEC = "zstd"
DEFAULT_LEVEL = 1
DEFAULT_SHUFFLE = "bitshuffle"
DEFAULT_BLOCKSIZE = 1 << 20
SHUFFLES = ("bitshuffle", "shuffle", "none", "auto")
CHUNK_HEADER_BYTES = 16
AUTO_NOSHUFFLE_MEAN = 3.0
# Our names for the shuffles, as imagecodecs spells them.
BLOSC_SHUFFLES = {"bitshuffle": "bitshuffle", "shuffle": "shuffle", "none": "noshuffle"}


def available_threads() -> int:
    """Cores this process may run on (respects taskset/cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class Compression:
    """How frames are compressed.

    Parameters
    ----------
    codec
        One of ``zstd`` (archive), ``lz4`` (fast live transfer), ``lz4hc``,
        ``zlib`` (baseline), ``blosclz``.
    level
        Compression level 0-9 (0 stores the frames uncompressed inside blosc).
    shuffle
        ``bitshuffle``, ``shuffle``, ``none``, or ``auto`` (per stack: no
        shuffle when integer counts average >= 3 per pixel, else bitshuffle).
    blocksize
        Blosc block size in bytes (0 lets blosc choose).
    threads
        Compression threads; ``None`` means all available cores.
    """

    codec: str = DEFAULT_CODEC
    level: int = DEFAULT_LEVEL
    shuffle: str = DEFAULT_SHUFFLE
    blocksize: int = DEFAULT_BLOCKSIZE
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.codec not in CODEC_IDS:
            raise ValueError(f"unknown codec {self.codec!r}; choose from {sorted(CODEC_IDS)}")
        if not 0 <= self.level <= 9:
            raise ValueError(f"compression level must be 0-9, got {self.level}")
        if self.shuffle not in SHUFFLES:
            raise ValueError(f"unknown shuffle {self.shuffle!r}; choose from {SHUFFLES}")
        if self.blocksize < 0:
            raise ValueError(f"block size must be >= 0 bytes, got {self.blocksize}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")

    def resolved(self, first_frame: np.ndarray) -> Compression:
        """Settings with ``auto`` shuffle and ``None`` threads decided for this stack."""
        shuffle = self.shuffle
        if shuffle == "auto":
            dense = first_frame.dtype.kind in "iu" and float(first_frame.mean()) >= AUTO_NOSHUFFLE_MEAN
            shuffle = "none" if dense else "bitshuffle"
        return dataclasses.replace(self, shuffle=shuffle, threads=self.threads or available_threads())

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


DEFAULT_COMPRESSION = Compression()


def compress_frame(frame: np.ndarray, settings: Compression, threads: int | None = None) -> bytes:
    """Compress one C-contiguous frame into one blosc2 chunk (settings must be resolved).

    ``threads`` overrides ``settings.threads`` (1 when frames are compressed in
    parallel Python threads).
    """
    return imagecodecs.blosc2_encode(
        frame,
        level=settings.level,
        compressor=settings.codec,
        shuffle=BLOSC_SHUFFLES[settings.shuffle],
        splitmode="auto",
        typesize=frame.dtype.itemsize,
        blocksize=settings.blocksize,
        numthreads=threads or settings.threads,
    )


def decompress_frame(chunk: bytes | memoryview, out: np.ndarray, threads: int) -> None:
    """Decode one chunk into ``out`` (a contiguous frame buffer); raises RuntimeError on a bad chunk.

    The caller has checked that the chunk's header holds ``out.nbytes`` bytes.
    """
    if not out.flags.c_contiguous:  # a flat view of it would be a copy, and the frame would land there
        raise ValueError("decompress_frame needs a C-contiguous frame buffer")
    imagecodecs.blosc2_decode(chunk, out=out.reshape(-1).view(np.uint8), numthreads=threads)


def chunk_sizes(chunk_header: bytes) -> tuple[int, int]:
    """Return ``(decoded_bytes, chunk_bytes)`` from a 16-byte blosc chunk header.

    The layout of these fields is the same in blosc1 (version 2) and blosc2
    (version 5) chunks, which is how python-mrcz walks from chunk to chunk.
    """
    nbytes, _blocksize, cbytes = struct.unpack_from("<III", chunk_header, 4)
    return nbytes, cbytes
