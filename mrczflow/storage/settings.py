"""Settings of storage: the ``ingest`` and ``compress`` sections of the config (defaults: config/schema.yaml)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..settings import Settings

if TYPE_CHECKING:  # the codec (blosc2) loads only when a step compresses, not for its settings
    from ..mrcz import Compression


@dataclasses.dataclass(frozen=True, repr=False)
class DoseSettings(Settings):
    """Where a movie's dose rate (e/physical px/s) and frame time (s) come from.

    ``source``: ``auto`` (each movie's SerialEM .mdoc, else its EPU .xml),
    ``mdoc`` or ``epu`` (that kind only), ``config`` (the values
    here) or ``measured`` (mean counts over the frame time).
    """

    section = "ingest.dose"

    source: str = "auto"
    dose_rate: float | None = None
    frame_time: float | None = None


@dataclasses.dataclass(frozen=True, repr=False)
class IngestSettings(Settings):
    """How movies are read: format, EER frame grouping, pixel size, dose, frames expected.

    ``expected_frames``: frames every movie must have (EER: before grouping);
    null takes each movie's own metadata (mdoc ``NumSubFrames``). A movie
    with another count is refused, never archived short.
    """

    section = "ingest"
    steps = {"ingest": ("format", "eer_group", "pixel_size", "dose", "expected_frames")}
    nested = {"dose": DoseSettings}

    format: str = "auto"
    eer_group: int = 20
    pixel_size: float | None = None
    dose: DoseSettings = dataclasses.field(default_factory=DoseSettings)
    expected_frames: int | None = None


@dataclasses.dataclass(frozen=True, repr=False)
class CompressSettings(Settings):
    """Compression of the uint8 archive (defaults measured: see mrczflow/mrcz/codec.py)."""

    section = "compress"
    steps = {"ingest": ("codec", "level", "shuffle", "blocksize", "allow_clipping")}

    codec: str = "zstd"
    level: int = 1
    shuffle: str = "bitshuffle"
    blocksize: int = 1048576
    allow_clipping: bool = False

    def compression(self, threads: int | None = None) -> Compression:
        from ..mrcz import Compression

        return Compression(
            codec=self.codec,
            level=self.level,
            shuffle=self.shuffle,
            blocksize=self.blocksize,
            threads=threads,
        )
