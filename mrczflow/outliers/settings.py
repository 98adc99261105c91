"""Settings of the outlier filter: the ``outliers`` section of the config (defaults: config/schema.yaml)."""

from __future__ import annotations

import dataclasses

from ..settings import Settings


@dataclasses.dataclass(frozen=True, repr=False)
class OutlierSettings(Settings):
    """Knobs of the filter (paper defaults).

    ``false_alarm_rate`` is the expected share of clean pixels called hot,
    and separately dead (exact count limits, :mod:`.counts`);
    ``line_min_excess`` the smallest relative excess or deficit of a line
    defect and ``line_false_alarms`` the false line segments allowed per stack
    (:mod:`.lines`); ``order``, ``relaxation`` and ``tail_limit`` are k, rho and the
    tail limit of the paper's fit (Eqs. 5-6), whose thresholds are recorded
    beside ours; ``background_block`` the block size (px) of the flattening.
    """

    section = "outliers"
    steps = {
        "outliers": (
            "order",
            "relaxation",
            "tail_limit",
            "false_alarm_rate",
            "line_min_excess",
            "line_false_alarms",
            "background_block",
        )
    }

    enabled: bool = True
    order: float = 6.0
    relaxation: float = 0.95
    tail_limit: float = 0.5
    false_alarm_rate: float = 1e-5
    line_min_excess: float = 0.1
    line_false_alarms: float = 1e-3
    background_block: int = 32
