"""Settings of the hand-off: the ``handoff`` section of the config (defaults: config/schema.yaml)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from ..settings import Settings

if TYPE_CHECKING:  # starfile loads only when a step writes STAR files, not for its settings
    from .relion import Optics


@dataclasses.dataclass(frozen=True, repr=False)
class HandoffSettings(Settings):
    """Exported movies and what downstream programs are told about them.

    ``format`` ``tiff`` (uint8 LZW) or ``mrc``; ``temp_movies`` makes exported
    movies Snakemake temp() files; ``voltage`` (kV), ``cs`` (mm),
    ``amplitude_contrast`` and ``optics_group`` describe RELION's optics group;
    ``persistent_defects`` is the fraction of sampled stacks a pixel must be
    flagged in to enter the session's defect map; ``per_movie_gains`` gives
    each RELION per-movie STAR its own gain file.
    """

    section = "handoff"
    steps = {
        "handoff": ("format", "voltage", "cs", "amplitude_contrast", "optics_group", "persistent_defects"),
        "relion_movie": ("format", "voltage", "cs", "amplitude_contrast", "optics_group"),
    }

    format: str = "tiff"
    temp_movies: bool = False
    voltage: float = 300.0
    cs: float = 2.7
    amplitude_contrast: float = 0.1
    optics_group: str = "opticsGroup1"
    persistent_defects: float = 0.5
    per_movie_gains: bool = True

    def optics(self, pixel_size: float | None) -> Optics:
        from .relion import Optics

        return Optics(
            pixel_size=float(pixel_size or 0.0),
            voltage=self.voltage,
            cs=self.cs,
            amplitude_contrast=self.amplitude_contrast,
            name=self.optics_group,
        )
