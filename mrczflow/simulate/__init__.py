"""Direct-detector simulator with ground truth: the data source for the demo, tests and benchmarks.

See :mod:`.detector` for the physics, :mod:`.defects` for hot/dead pixel
dynamics, :mod:`.specimen` for specimens and drift, :mod:`.session` for the
datasets and their layout on disk, :mod:`.truth` for reading the ground truth.
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "DefectSchedule": ".defects",
    "Detector": ".detector",
    "DetectorConfig": ".detector",
    "SessionConfig": ".session",
    "StackSimulation": ".session",
    "Truth": ".truth",
    "psf_kernel": ".detector",
    "simulate": ".session",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
