"""Live sessions: taking movies as they land, and running the workflow on them (``mrczflow watch``).

- :mod:`.arrivals`: which movies are complete (settled on disk, and whole by their own metadata);
- :mod:`.ready`: the list of movies taken, which the workflow reads (config ``movies_ready``);
- :mod:`.watch`: the watcher's loop, which runs Snakemake with the user's ``--cores`` or ``--profile``.
"""

from .arrivals import Arrivals, why_incomplete
from .ready import append_ready, read_entries, read_ready
from .watch import Watcher, WatchError

__all__ = [
    "Arrivals",
    "WatchError",
    "Watcher",
    "append_ready",
    "read_entries",
    "read_ready",
    "why_incomplete",
]
