#!/usr/bin/env python
"""Simulate a cryo-EM session on a counting detector, with ground truth (mrczflow.simulate).

Writes movies (integer MRC, vendor float32 MRC and/or LZW TIFF, each with a
SerialEM .mdoc), a vacuum-reference series and a vendor gain reference under
OUT, and the ground truth under OUT/truth (for scoring; no pipeline step reads
it). Memory: a few frames. Deterministic from --seed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mrczflow.jobs import job_banner
from mrczflow.simulate import simulate
from mrczflow.simulate.options import configs_from_options, knob_options


@click.command(context_settings={"max_content_width": 110})
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--movies/--no-movies", default=True, show_default=True, help="write the session's movies")
@click.option(
    "--references/--no-references",
    default=True,
    show_default=True,
    help="write the vacuum-reference series and the vendor gain reference",
)
@knob_options
def main(out: Path, movies: bool, references: bool, **options) -> None:
    """Write a simulated session under OUT."""
    try:
        session, detector = configs_from_options(options)
    except (TypeError, ValueError) as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(job_banner("simulate", str(out)), err=True)
    simulate(
        out,
        session,
        detector,
        movies=movies,
        references=references,
        progress=lambda message: click.echo(message, err=True),
    )


if __name__ == "__main__":
    sys.exit(main())
