"""Settings of the gain stage: the ``gain`` and ``gamma`` sections of the config (defaults: config/schema.yaml)."""

from __future__ import annotations

import dataclasses

from ..settings import Settings


@dataclasses.dataclass(frozen=True, repr=False)
class GainSettings(Settings):
    """The vendor gain reference and its orientation relative to the movies.

    ``rotate`` (0/90/180/270 degrees counter-clockwise) is applied first, then
    ``flip`` (``none``, ``x`` left-right, ``y`` up-down). ``reference`` is the
    file the config names; rules resolve it and pass the path to the steps.
    ``orientation_check`` is what rule outliers does when a stack's own sum
    shows the configured orientation to be wrong (:mod:`.session_check`):
    ``stop`` the stack naming the right one, or ``warn`` (the user insists)
    and go on, listed under "Look at" in the report.
    """

    section = "gain"
    steps = {
        step: ("rotate", "flip", "orientation_check") if step == "outliers" else ("rotate", "flip")
        for step in (
            "ingest",
            "fit_gamma",
            "apply_gain",
            "outliers",
            "koma_sum",
            "koma",
            "session_report",
            "handoff",
            "relion_movie",
        )
    }

    reference: str | None = None
    rotate: int = 0
    flip: str = "none"
    orientation_check: str = "stop"


@dataclasses.dataclass(frozen=True, repr=False)
class GammaSettings(Settings):
    """Gamma-corrected gain (paper section 5.1).

    ``references`` is ``demo`` or a glob of vacuum references (resolved by the
    rules); ``patch`` the uniform filter of the flatness criterion (Eq. 10);
    ``fallback_unity`` uses gamma = 1 when the series cannot be fitted;
    ``write_gains`` keeps each stack's ``gain ** gamma`` (else a temporary file,
    deleted once KOMA has read it); ``write_movies`` also writes Eq. 9 movies; ``cmos_reference`` an
    additive pattern subtracted first in them.
    """

    section = "gamma"
    steps = {"fit_gamma": ("patch", "fallback_unity")}

    enabled: bool | str = "auto"
    references: str = "demo"
    patch: int = 64
    fallback_unity: bool = False
    write_gains: bool = False
    write_movies: bool = False
    cmos_reference: str | None = None
