"""Per-stack hot/dead pixel filter (paper section 4; rule ``outliers``).

:mod:`.detect` finds the outliers of one stack from its sum, with exact
count limits (:mod:`.counts`) and row/column pooling (:mod:`.lines`); :mod:`.fill`
replaces them in every frame; :mod:`.defects` writes the defect file motion
correction reads; :mod:`.steps` is the rule's step; :mod:`.figures` draws the
report's outlier figures; :mod:`.settings` is the config section.
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "CLUSTERED": ".detect",
    "DEAD": ".detect",
    "Detection": ".detect",
    "HOT": ".detect",
    "K2_PSF": ".fill",
    "LINE": ".detect",
    "OutlierSettings": ".settings",
    "anscombe": ".detect",
    "defect_list": ".defects",
    "detect": ".detect",
    "filtered_frames": ".fill",
    "stack_sum": ".detect",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
