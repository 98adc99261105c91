"""Live sessions: taking movies as they land, and running the workflow on them (``mrczflow watch``).

- :mod:`.arrivals`: which movies are complete (settled on disk, and whole by their own metadata);
- :mod:`.ready`: the list of movies taken, which the workflow reads (config ``movies_ready``);
- :mod:`.watch`: the watcher's loop, which runs Snakemake with the user's ``--cores`` or ``--profile``.
"""

from .._lazy import lazy_exports

# Each public name and its module, imported on first use (why: mrczflow/_lazy.py).
_EXPORTS = {
    "Arrivals": ".arrivals",
    "WatchError": ".watch",
    "Watcher": ".watch",
    "append_ready": ".ready",
    "read_entries": ".ready",
    "read_ready": ".ready",
    "why_incomplete": ".arrivals",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
