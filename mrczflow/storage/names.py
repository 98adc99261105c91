"""Which files make up a session, the name each stack goes by, and the order they were recorded in.

A stack's name is its movie's file name without the movie extension, made
safe for every program downstream: any character other than a letter, digit,
``.``, ``+`` or ``-`` becomes ``_`` (so spaces, quotes, ``$``, backticks,
``;``, ``&``, ``|`` never reach a file name or a command line), and a name
that would start with ``-`` or ``.`` (an option, or a hidden file) starts
with ``_``. Letters include unicode letters: ``ünï.mrc`` stays ``ünï``.

A movie is refused up front, alone, with one line naming it and what to do,
when Snakemake cannot take its path (``{ } < >`` have meanings in Snakemake
paths), when it is not a readable regular file (a dangling link, a folder,
a named pipe), or when its safe name is already another movie's.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from .exposure import MDOC_TIME_FORMAT
from .movies import EXTENSIONS

MOVIE_SUFFIXES = tuple(EXTENSIONS)  # what the readers read
SIDECAR_SUFFIXES = (".mdoc", ".xml")
UNSAFE = re.compile(r"[^\w.+-]")
SNAKEMAKE_SPECIAL = set("{}<>")


def movie_stem(path: str | os.PathLike) -> str | None:
    """The file name without its movie extension, or None when it is not a movie."""
    name = os.path.basename(os.fspath(path))
    for suffix in MOVIE_SUFFIXES:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def stack_name(path: str | os.PathLike) -> str:
    """The safe name of the stack of the movie at ``path`` (see module doc)."""
    stem = movie_stem(path)
    if stem is None:
        raise ValueError(f"{os.fspath(path)}: not a movie ({', '.join(MOVIE_SUFFIXES)})")
    safe = UNSAFE.sub("_", stem)
    return "_" + safe if safe[0] in "-." else safe


def _problem(path: str) -> str | None:
    special = sorted(SNAKEMAKE_SPECIAL & set(path))
    if special:
        return (
            f"its path holds {' '.join(special)}, which Snakemake reads as wildcards; rename it without them"
        )
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "a link to nothing (dangling symlink); restore its target or remove it"
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); check its permissions"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a folder, pipe or device); move it out of the session folder"
    if not os.access(path, os.R_OK):
        return "not readable; check its permissions"
    return None


def session_movies(paths: Iterable[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Split candidate files into ``{stack: path}`` and ``{path: reason refused}``.

    Sidecars (``.mdoc``, ``.xml``) and files that are not movies are skipped
    silently. Paths are taken in sorted order, so of two movies with the same
    safe name the first keeps it and the second is refused.
    """
    movies: dict[str, str] = {}
    refused: dict[str, str] = {}
    for path in sorted(paths):
        if path.lower().endswith(SIDECAR_SUFFIXES) or movie_stem(path) is None:
            continue
        problem = _problem(path)
        if problem is None:
            name = stack_name(path)
            if name in movies:
                problem = f"its stack name {name!r} is already {movies[name]}'s; rename one of them"
            else:
                movies[name] = path
                continue
        refused[path] = problem
    return movies, refused


def refusal_line(path: str, reason: str) -> str:
    """The one line a refused movie gets: the file, then what is wrong and what to do."""
    return f"refused: {Path(path)}: {reason}"


MDOC_TIME = re.compile(rb"^DateTime\s*=\s*(.+?)\s*$", re.M)


EPU_TIME = re.compile(rb"<(?:\w+:)?acquisitionDateTime>([^<]+)</")


def acquisition_time(movie: str | os.PathLike, mdoc: str | os.PathLike | None = None) -> tuple[str, str]:
    """When a movie was recorded, as ``(ISO time, where it came from)``.

    The ``DateTime`` of its SerialEM ``.mdoc``, or the ``acquisitionDateTime``
    of its EPU ``.xml``, when it has one (read with a regular expression, not
    a full parse, so a session of 20,000 movies is ordered in about a second),
    else the file's modification time (UTC).
    """
    if mdoc is not None and os.fspath(mdoc).lower().endswith(".xml"):
        from .exposure import _epu_time

        with contextlib.suppress(OSError, ValueError):
            found = EPU_TIME.search(Path(mdoc).read_bytes())
            if found:
                return _epu_time(found.group(1).decode("ascii")), "EPU acquisitionDateTime"
    elif mdoc is not None:
        with contextlib.suppress(OSError, ValueError):
            found = MDOC_TIME.search(Path(mdoc).read_bytes())
            if found:
                text = " ".join(found.group(1).decode("ascii").split())
                return dt.datetime.strptime(text, MDOC_TIME_FORMAT).isoformat(), "mdoc DateTime"
    stamp = os.stat(movie).st_mtime
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc).replace(tzinfo=None).isoformat(), "file time"
