"""Which movies of a growing session are complete: settled on disk, and whole by their own metadata.

A microscope (or the copy from it) writes a movie over seconds to minutes, and
its sidecar (SerialEM ``.mdoc``, EPU ``.xml``) last. A movie is taken only when

- its size and modification time, and its sidecar's, have not changed for the
  settle time (:class:`Arrivals`), and
- it opens as a movie and has the frames its sidecar (or
  ``ingest.expected_frames``) says (:func:`why_incomplete`).

Either test alone can be fooled: a stalled copy looks settled, and a movie
without metadata has no frame count to check.
"""

from __future__ import annotations

import dataclasses
import os

from ..mrcz.errors import MrczError
from ..storage.exposure import exposure_from_sidecar, sidecar
from ..storage.movies import IngestError, open_movie
from ..storage.settings import IngestSettings

SIDECAR_SOURCES = ("mdoc", "epu", "auto")  # dose sources that read a sidecar, which must have arrived


@dataclasses.dataclass
class _Seen:
    signature: tuple[int, int, int, int]  # movie size and mtime, sidecar size and mtime (0 when none)
    since: float  # when it last changed, by the watcher's clock


def _signature(movie: str, sidecar_file: str | None) -> tuple[int, int, int, int] | None:
    try:
        info = os.stat(movie)
        side = os.stat(sidecar_file) if sidecar_file else None
    except OSError:  # moved or deleted between the glob and now: seen again next scan, if it comes back
        return None
    return (info.st_size, info.st_mtime_ns, side.st_size if side else 0, side.st_mtime_ns if side else 0)


class Arrivals:
    """Movies seen on disk and how long each has been unchanged (size and mtime, its sidecar's too).

    Parameters
    ----------
    settle
        Seconds a movie and its sidecar must stay unchanged before it is looked at.
    """

    def __init__(self, settle: float) -> None:
        self.settle = settle
        self._seen: dict[str, _Seen] = {}

    def observe(self, movies: dict[str, tuple[str, str | None]], now: float) -> list[str]:
        """Record ``{name: (movie file, its sidecar or None)}`` as seen at ``now``; the names settled by then.

        A movie that changed since the last look starts its settle time again.
        """
        settled = []
        for name, (movie, sidecar_file) in movies.items():
            signature = _signature(movie, sidecar_file)
            if signature is None:
                self._seen.pop(name, None)
                continue
            seen = self._seen.get(name)
            if seen is None or seen.signature != signature:
                self._seen[name] = _Seen(signature, now)
            elif now - seen.since >= self.settle:
                settled.append(name)
        return settled

    def forget(self, name: str) -> None:
        """Stop tracking the movie ``name`` (taken)."""
        self._seen.pop(name, None)

    def waiting(self) -> int:
        """Movies seen but not settled or not complete yet."""
        return len(self._seen)


def sidecar_of(movie: str, settings: IngestSettings) -> str | None:
    """The sidecar the movie's dose comes from, when the dose source reads one and it has arrived."""
    source = settings.dose.source
    if source not in SIDECAR_SOURCES:
        return None
    found = sidecar(movie, source)
    return str(found) if found else None


def why_incomplete(movie: str, settings: IngestSettings) -> str | None:
    """Why ``movie`` cannot be taken yet, or None when it is complete.

    Complete means: its sidecar is there when the dose comes from one, the
    movie opens (header, page table, size agree), and it has the frames the
    sidecar or ``ingest.expected_frames`` says.
    """
    sidecar_file = None
    if settings.dose.source in SIDECAR_SOURCES:
        sidecar_file = sidecar_of(movie, settings)
        if sidecar_file is None:
            return f"its sidecar ({settings.dose.source}) has not arrived"
    expected = settings.expected_frames
    if expected is None and sidecar_file is not None:
        try:
            expected = exposure_from_sidecar(sidecar_file).frames
        except (OSError, ValueError) as exc:
            return f"its sidecar {sidecar_file} is not readable yet ({exc})"
    try:
        with open_movie(movie, settings.format, settings.eer_group) as source:
            frames = source.raw_frames
    except (IngestError, MrczError, OSError, ValueError) as exc:
        return f"not readable as a whole movie yet ({exc})"
    if expected is not None and frames != expected:
        return f"{frames} frames of the {expected} its metadata says"
    return None
