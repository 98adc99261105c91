#!/usr/bin/env python
"""Rule compress: decimate one stack's counts to uint8 (losslessly or not at all) and write MRCZ.

Calls :func:`mrczflow.storage.steps.compress`. Memory: one frame.
"""

from __future__ import annotations

import click

from mrczflow.jobs import run_guarded
from mrczflow.storage.settings import CompressSettings
from mrczflow.storage.steps import compress

STEP = "compress"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("counts", type=click.Path(dir_okay=False))
@click.argument("record", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.argument("summary_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True, help="the stack's name in results/")
@click.option("--settings", "settings_json", default=None, help="config section compress, as JSON")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="default: all available cores")
def main(counts, record, out, summary_out, stack, settings_json, threads) -> None:
    """Write OUT (uint8 MRCZ) and SUMMARY_OUT (sizes, ratio, time) from COUNTS and its RECORD."""
    run_guarded(
        stack,
        STEP,
        lambda: compress(
            counts,
            record,
            out,
            settings=CompressSettings.for_step(STEP, settings_json),
            threads=threads,
            summary_out=summary_out,
        ),
    )


if __name__ == "__main__":
    main()
