#!/usr/bin/env python
"""Rule export_movie: one archived stack as a TIFF/MRC movie, every frame read back and checked.

(mrczflow.handoff.steps.export_step) Memory: one frame.
"""

from __future__ import annotations

import click

from mrczflow.handoff.steps import export_step
from mrczflow.jobs import run_guarded

STEP = "export_movie"  # the name of the rule and of this script


@click.command()
@click.argument("archive", type=click.Path(dir_okay=False))
@click.argument("movie", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option("--format", "fmt", type=click.Choice(["tiff", "mrc"]), default="tiff")
def main(archive, movie, stack, fmt) -> None:
    """Write MOVIE from ARCHIVE."""
    run_guarded(stack, STEP, lambda: export_step(archive, movie, stack=stack, fmt=fmt))


if __name__ == "__main__":
    main()
