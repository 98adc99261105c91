#!/usr/bin/env python
"""Rule ingest: read one movie in any format and write its integer counts and a record of it.

Calls :func:`mrczflow.steps.ingest_movie`. Memory: one frame (plus the gain
reference for float movies).
"""

from __future__ import annotations

import click

from mrczflow.steps import ingest_movie, run_guarded


@click.command()
@click.argument("movie", type=click.Path(dir_okay=False))
@click.argument("counts_out", type=click.Path(dir_okay=False))
@click.argument("record_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True, help="the stack's name, for messages and the record")
@click.option("--format", "fmt", default="auto", show_default=True, help="auto, mrc, tiff or eer")
@click.option("--eer-group", default=20, show_default=True, help="EER frames summed per count frame")
@click.option("--gain", default=None, help="vendor gain reference, for gain-normalised float movies")
@click.option("--gain-rotate", type=click.Choice(["0", "90", "180", "270"]), default="0", show_default=True)
@click.option("--gain-flip", type=click.Choice(["none", "x", "y"]), default="none", show_default=True)
@click.option(
    "--dose-source", type=click.Choice(["mdoc", "config", "measured"]), default="mdoc", show_default=True
)
@click.option("--dose-rate", type=float, default=None, help="e/physical px/s (with --dose-source config)")
@click.option("--frame-time", type=float, default=None, help="seconds per frame")
@click.option("--pixel-size", type=float, default=0.0, help="Angstrom")
def main(
    movie,
    counts_out,
    record_out,
    stack,
    fmt,
    eer_group,
    gain,
    gain_rotate,
    gain_flip,
    dose_source,
    dose_rate,
    frame_time,
    pixel_size,
) -> None:
    """Ingest MOVIE: write COUNTS_OUT (MRCZ) and RECORD_OUT (JSON)."""
    run_guarded(
        stack,
        "ingest",
        lambda: ingest_movie(
            movie,
            counts_out,
            record_out,
            stack=stack,
            fmt=fmt,
            eer_group=eer_group,
            gain=gain,
            gain_rotate=int(gain_rotate),
            gain_flip=gain_flip,
            dose_source=dose_source,
            dose_rate=dose_rate,
            frame_time=frame_time,
            pixel_size=pixel_size,
        ),
    )


if __name__ == "__main__":
    main()
