"""Gamma-corrected gain (paper section 5.1; rules ``fit_gamma``, ``apply_gain``, ``normalise``).

:mod:`.reference` loads and orients the vendor gain reference; :mod:`.law`
is the gamma(dose rate) law (Eq. 11); :mod:`.fit` finds each reference's best
gamma (Eq. 10), fits the law and checks the gain's orientation on the
references; :mod:`.session_check` checks it on each stack's own sum (rule
``outliers``, no references needed), with :mod:`.robust`'s clipping; :mod:`.steps` are the rules' steps; :mod:`.figures` draws Fig. 9; :mod:`.settings` holds
the ``gain`` and ``gamma`` config sections.
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "FLIPS": ".reference",
    "GainError": ".reference",
    "GainOrientationError": ".session_check",
    "GainSettings": ".settings",
    "GammaLaw": ".law",
    "GammaSettings": ".settings",
    "OrientationCheck": ".session_check",
    "ROTATIONS": ".reference",
    "check_on_sum": ".session_check",
    "load_gain": ".reference",
    "load_readout": ".reference",
    "orient": ".reference",
    "read_gain": ".reference",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
