"""Settings of the outlier filter: the ``outliers`` section of the config (defaults: config/schema.yaml)."""

from __future__ import annotations

import dataclasses

from ..settings import Settings


@dataclasses.dataclass(frozen=True, repr=False)
class OutlierSettings(Settings):
    """Knobs of the filter (paper defaults).

    ``order`` and ``relaxation`` are k and rho of the logistic weight (paper
    Eq. 6); ``tail_limit`` the residual (sigma units) beyond which the tails
    are fitted; ``floor_sigma`` the nearest a threshold may come to the
    centre; ``background_block`` the block size (px) of the flattening.
    """

    section = "outliers"
    steps = {"outliers": ("order", "relaxation", "tail_limit", "floor_sigma", "background_block")}

    enabled: bool = True
    order: float = 6.0
    relaxation: float = 0.95
    tail_limit: float = 0.5
    floor_sigma: float = 4.26
    background_block: int = 32
