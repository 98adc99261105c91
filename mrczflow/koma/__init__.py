"""KOMA, the knock-out moving average (paper section 5.2; rule ``koma``, its sums from ``outliers``).

:mod:`.windows` are the windows (with their spares; and the paper's exact prefix sums);
:mod:`.screen` keeps high-contrast stacks out of them (contrast and straight edges, each judged
against its window's stacks); :mod:`.correction` turns a window sum, its measured noise and its
trend into a stack's correction, with :mod:`.drift` judging its lowest frequencies against the
stacks' own scatter; :mod:`.noise` holds the correlated-noise metric (paper Eq. 7)
and the fixed-pattern DQE loss; :mod:`.steps` are the rules' steps; :mod:`.figures` the report's
KOMA figures; :mod:`.settings` the ``koma`` config section.
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "Correction": ".correction",
    "CorrelationAccumulator": ".noise",
    "FORMS": ".correction",
    "HalfSums": ".noise",
    "KomaSettings": ".settings",
    "LowBand": ".drift",
    "Spread": ".correction",
    "Views": ".drift",
    "add_to_prefix": ".windows",
    "block_means": ".screen",
    "contrast": ".screen",
    "correction": ".correction",
    "correlated_noise": ".noise",
    "edge_block": ".screen",
    "edge_strength": ".screen",
    "fixed_pattern_loss": ".noise",
    "live_window": ".windows",
    "low_band": ".drift",
    "prefix_sums": ".windows",
    "wiener": ".correction",
    "window": ".windows",
    "window_screen": ".screen",
    "window_sum": ".windows",
    "windows_changed_by_append": ".windows",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
