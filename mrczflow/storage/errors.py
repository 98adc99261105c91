"""The error of storage: what a movie or its metadata cannot give (its own module, light to import).

The sidecar readers (:mod:`.exposure`) raise it too, and the workflow's planning reads sidecars in
every job's Snakemake: importing the movie readers (tifffile, the MRCZ codec) for the error alone
cost each of them 0.2 s.
"""

from __future__ import annotations


class IngestError(ValueError):
    """A movie cannot be read as counts."""
