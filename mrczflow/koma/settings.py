"""Settings of KOMA: the ``koma`` section of the config (defaults: config/schema.yaml)."""

from __future__ import annotations

import dataclasses

from ..settings import Settings


@dataclasses.dataclass(frozen=True, repr=False)
class KomaSettings(Settings):
    """The knock-out moving average (paper section 5.2).

    ``radius`` a: stacks on each side of the window; ``spare`` stacks beyond
    it on each side that top a window up to ``2a`` when the screen keeps
    stacks out (the rule gives them; the step uses the nearest); ``form`` ``divide`` or
    ``subtract`` (Eq. 9); ``denoise`` Wiener-filters the window's pattern;
    ``high_contrast`` the contrast above which a stack is kept out of windows;
    ``include``/``exclude`` stack names that override that screen; the
    ``*movie*`` keys say whether and how normalised movies are written.
    """

    section = "koma"
    steps = {
        "koma_sum": ("high_contrast",),
        "outliers": ("high_contrast",),  # it writes the KOMA sum with its contrast verdict
        "koma": (
            "form",
            "denoise",
            "high_contrast",
            "include",
            "exclude",
            "movie_dtype",
            "movie_compression",
        ),
        "session_report": ("radius", "form", "denoise", "high_contrast", "include", "exclude"),
        "handoff": ("form", "denoise", "high_contrast", "include", "exclude"),
        "relion_movie": ("form", "denoise", "high_contrast", "include", "exclude"),
    }

    enabled: bool = True
    radius: int = 12
    spare: int = 2
    form: str = "divide"
    denoise: bool = True
    high_contrast: float = 0.08
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    write_gains: bool = False
    write_movies: bool = False
    temp_movies: bool = False
    movie_dtype: str = "float32"
    movie_compression: str = "none"

    def decision(self, stack: str) -> str:
        """``include`` or ``exclude`` when the config names ``stack``, else ``auto`` (the contrast screen)."""
        if stack in self.include:
            return "include"
        if stack in self.exclude:
            return "exclude"
        return "auto"
