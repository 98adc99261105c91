"""Hand-off: the archive back out as movies RELION, MotionCor2/3 and cryoSPARC read, with their gain and defects.

Modules: :mod:`.export` (archive -> TIFF/MRC, every frame checked),
:mod:`.conventions` (how each program orients movies and gains, from its
source), :mod:`.session` (one gain and defect map for the session),
:mod:`.programs` (a folder per program with the exact settings),
:mod:`.relion` (``movies.star`` and per-movie STARs), :mod:`.steps` (what
the workflow's rules run).
"""

from .conventions import PROGRAMS, as_read, flags_for_gain
from .export import ExportError, export_movie
from .relion import Movie, Optics, graft, write_movie_star, write_movies_star

__all__ = [
    "PROGRAMS",
    "ExportError",
    "Movie",
    "Optics",
    "as_read",
    "export_movie",
    "flags_for_gain",
    "graft",
    "write_movie_star",
    "write_movies_star",
]
