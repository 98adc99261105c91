"""Gamma-corrected gain (paper section 5.1; rules ``fit_gamma``, ``apply_gain``, ``normalise``).

:mod:`.reference` loads and orients the vendor gain reference; :mod:`.law`
is the gamma(dose rate) law (Eq. 11); :mod:`.fit` finds each reference's best
gamma (Eq. 10), fits the law and checks the gain's orientation on the
references; :mod:`.session_check` checks it on each stack's own sum (rule
``outliers``, no references needed); :mod:`.steps` are the rules' steps; :mod:`.figures` draws Fig. 9; :mod:`.settings` holds
the ``gain`` and ``gamma`` config sections.
"""

from .law import GammaLaw
from .reference import FLIPS, ROTATIONS, GainError, load_gain, orient, read_gain
from .session_check import GainOrientationError, OrientationCheck, check_on_sum
from .settings import GainSettings, GammaSettings

__all__ = [
    "FLIPS",
    "ROTATIONS",
    "GainError",
    "GainOrientationError",
    "GainSettings",
    "GammaLaw",
    "GammaSettings",
    "OrientationCheck",
    "check_on_sum",
    "load_gain",
    "orient",
    "read_gain",
]
