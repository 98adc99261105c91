"""Per-stack hot/dead pixel filter (paper section 4; rule ``outliers``).

:mod:`.detect` finds the outliers of one stack from its sum, with exact
count limits (:mod:`.counts`) and row/column pooling (:mod:`.lines`); :mod:`.fill`
replaces them in every frame; :mod:`.defects` writes the defect file motion
correction reads; :mod:`.steps` is the rule's step; :mod:`.figures` draws the
report's outlier figures; :mod:`.settings` is the config section.
"""

from .defects import defect_list
from .detect import CLUSTERED, DEAD, HOT, LINE, Detection, anscombe, detect, stack_sum
from .fill import K2_PSF, filtered_frames
from .settings import OutlierSettings

__all__ = [
    "CLUSTERED",
    "DEAD",
    "HOT",
    "K2_PSF",
    "LINE",
    "Detection",
    "OutlierSettings",
    "anscombe",
    "defect_list",
    "detect",
    "filtered_frames",
    "stack_sum",
]
