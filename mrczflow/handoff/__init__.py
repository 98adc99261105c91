"""Hand-off: the archive back out as movies RELION, MotionCor2/3 and cryoSPARC read, with their gain and defects.

Modules: :mod:`.export` (archive -> TIFF/MRC, every frame checked),
:mod:`.conventions` (how each program orients movies and gains, from its
source), :mod:`.session` (one gain and defect map for the session),
:mod:`.programs` (a folder per program with the exact settings),
:mod:`.relion` (``movies.star`` and per-movie STARs), :mod:`.steps` (what
the workflow's rules run).
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "ExportError": ".export",
    "Movie": ".relion",
    "Optics": ".relion",
    "PROGRAMS": ".conventions",
    "as_read": ".conventions",
    "export_movie": ".export",
    "flags_for_gain": ".conventions",
    "graft": ".relion",
    "write_movie_star": ".relion",
    "write_movies_star": ".relion",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
