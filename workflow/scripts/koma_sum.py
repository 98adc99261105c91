#!/usr/bin/env python
"""Rule koma_sum (outliers off): a stack's KOMA sum and contrast screen (mrczflow.koma.steps.koma_sum).

From the raw sum rule ingest wrote: reads no frame. Memory: two frame-sized images. With outliers
on, rule outliers writes the KOMA sum itself.
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.jobs import run_guarded
from mrczflow.koma.settings import KomaSettings
from mrczflow.koma.steps import koma_sum

STEP = "koma_sum"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("stack_sum", type=click.Path(dir_okay=False))
@click.argument("info_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option(
    "--gain", default=None, help="vendor gain reference, divided out before the contrast is measured"
)
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
@click.option("--settings", "settings_json", default=None, help="config section koma, as JSON")
@click.option(
    "--record", default=None, help="the stack's ingest record (time stamp, dose), copied to INFO_OUT"
)
def main(stack_sum, info_out, stack, gain, gain_json, settings_json, record) -> None:
    """Write INFO_OUT (JSON: the KOMA sum as filled values beside STACK_SUM, contrast, high_contrast)."""
    run_guarded(
        stack,
        STEP,
        lambda: koma_sum(
            stack_sum,
            info_out,
            stack=stack,
            gain_path=gain,
            gain=GainSettings.for_step(STEP, gain_json),
            settings=KomaSettings.for_step(STEP, settings_json),
            record_path=record,
        ),
    )


if __name__ == "__main__":
    main()
