#!/usr/bin/env python
"""Rule ingest: any movie format -> verified integer counts + a record (mrczflow.storage.steps.ingest).

Memory: one frame (plus the gain reference for vendor gain-normalised floats).
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.jobs import run_guarded
from mrczflow.storage.settings import IngestSettings
from mrczflow.storage.steps import ingest

STEP = "ingest"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("movie", type=click.Path(dir_okay=False))
@click.argument("counts_out", type=click.Path(dir_okay=False))
@click.argument("record_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True, help="the stack's name in results/")
@click.option("--settings", "settings_json", default=None, help="config section ingest, as JSON")
@click.option("--gain", default=None, help="vendor gain reference (MRC/MRCZ), for float movies")
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
@click.option(
    "--archive", default=None, help="the stack's archive, if an earlier run made one (never replaced by less)"
)
def main(movie, counts_out, record_out, stack, settings_json, gain, gain_json, archive) -> None:
    """Read MOVIE, write COUNTS_OUT (integer MRCZ) and RECORD_OUT (JSON)."""
    run_guarded(
        stack,
        STEP,
        lambda: ingest(
            movie,
            counts_out,
            record_out,
            stack=stack,
            settings=IngestSettings.for_step(STEP, settings_json),
            gain_path=gain,
            gain=GainSettings.for_step(STEP, gain_json),
            archive=archive,
        ),
    )


if __name__ == "__main__":
    main()
