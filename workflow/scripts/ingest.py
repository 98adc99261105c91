#!/usr/bin/env python
"""Rule ingest: one pass over a movie -> archive, record, storage summary, stack sum and half sum.

Calls :func:`mrczflow.storage.steps.ingest`. Memory: one frame and the
frame-sized sum (plus the gain reference for vendor gain-normalised floats).
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.jobs import run_guarded
from mrczflow.storage.settings import CompressSettings, IngestSettings
from mrczflow.storage.steps import ingest

STEP = "ingest"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("movie", type=click.Path(dir_okay=False))
@click.argument("archive_out", type=click.Path(dir_okay=False))
@click.argument("record_out", type=click.Path(dir_okay=False))
@click.argument("summary_out", type=click.Path(dir_okay=False))
@click.argument("sum_out", type=click.Path(dir_okay=False))
@click.argument("half_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True, help="the stack's name in results/")
@click.option(
    "--threads", type=click.IntRange(min=1), default=None, help="compression threads (default: all cores)"
)
@click.option("--settings", "settings_json", default=None, help="config section ingest, as JSON")
@click.option("--compress-settings", "compress_json", default=None, help="config section compress, as JSON")
@click.option("--gain", default=None, help="vendor gain reference (MRC/MRCZ), for float movies")
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
def main(
    movie,
    archive_out,
    record_out,
    summary_out,
    sum_out,
    half_out,
    stack,
    threads,
    settings_json,
    compress_json,
    gain,
    gain_json,
) -> None:
    """Archive MOVIE as ARCHIVE_OUT (uint8 MRCZ; an existing one is never replaced by less) and write
    RECORD_OUT, SUMMARY_OUT (JSON), SUM_OUT (the stack's sum, int32 MRCZ) and HALF_OUT (its even frames'
    sum on the scored rows, int32 MRCZ)."""
    run_guarded(
        stack,
        STEP,
        lambda: ingest(
            movie,
            archive_out,
            record_out,
            stack=stack,
            settings=IngestSettings.for_step(STEP, settings_json),
            compress=CompressSettings.for_step(STEP, compress_json),
            threads=threads,
            summary_out=summary_out,
            sum_out=sum_out,
            half_out=half_out,
            gain_path=gain,
            gain=GainSettings.for_step(STEP, gain_json),
        ),
    )


if __name__ == "__main__":
    main()
