"""Direct-detector simulator with ground truth: the data source for the demo, tests and benchmarks.

See :mod:`.detector` for the physics, :mod:`.defects` for hot/dead pixel
dynamics, :mod:`.specimen` for specimens and drift, :mod:`.session` for the
datasets and their layout on disk, :mod:`.truth` for reading the ground truth.
"""

from .defects import DefectSchedule
from .detector import Detector, DetectorConfig, psf_kernel
from .session import SessionConfig, StackSimulation, simulate
from .truth import Truth

__all__ = [
    "DefectSchedule",
    "Detector",
    "DetectorConfig",
    "SessionConfig",
    "StackSimulation",
    "Truth",
    "psf_kernel",
    "simulate",
]
