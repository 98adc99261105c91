"""KOMA, the knock-out moving average (paper section 5.2; rules ``koma_sum``, ``koma``).

:mod:`.windows` are the windows (and exact prefix sums for in-memory scoring); :mod:`.screen`
keeps high-contrast stacks out of them, each judged against its window's stacks; :mod:`.correction` turns a window sum
into a stack's correction; :mod:`.noise` is the correlated-noise metric
(paper Eq. 7); :mod:`.steps` are the rules' steps; :mod:`.figures` the
report's KOMA figures; :mod:`.settings` the ``koma`` config section.
"""

from .correction import FORMS, Correction, correction, wiener
from .noise import CorrelationAccumulator, correlated_noise
from .screen import block_means, contrast, window_screen
from .settings import KomaSettings
from .windows import add_to_prefix, live_window, prefix_sums, window, window_sum, windows_changed_by_append

__all__ = [
    "FORMS",
    "Correction",
    "CorrelationAccumulator",
    "KomaSettings",
    "add_to_prefix",
    "block_means",
    "contrast",
    "correction",
    "correlated_noise",
    "live_window",
    "prefix_sums",
    "wiener",
    "window",
    "window_screen",
    "window_sum",
    "windows_changed_by_append",
]
