#!/usr/bin/env python
"""Rule outliers: per-stack hot/dead pixel detection (mrczflow.outliers.steps.outliers), and the KOMA sum.

Reads the stack sum rule ingest wrote (no frame). Memory: the sum and a few frame-sized arrays.
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.jobs import run_guarded
from mrczflow.koma.settings import KomaSettings
from mrczflow.outliers.settings import OutlierSettings
from mrczflow.outliers.steps import outliers

STEP = "outliers"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("stack_sum", type=click.Path(dir_okay=False))
@click.argument("mask_out", type=click.Path(dir_okay=False))
@click.argument("defects_out", type=click.Path(dir_okay=False))
@click.argument("stats_out", type=click.Path(dir_okay=False))
@click.option(
    "--record", default=None, help="the stack's ingest record (time stamp, dose), copied to the stats"
)
@click.option("--stack", required=True)
@click.option("--settings", "settings_json", default=None, help="config section outliers, as JSON")
@click.option("--gain", default=None, help="the vendor gain reference (each pixel's own response)")
@click.option("--gain-settings", "gain_json", default=None, help="config section gain (orients it), as JSON")
@click.option(
    "--readout",
    default=None,
    help="a CMOS read-out reference (MRC, counts per frame): line defects told from read-out rows",
)
@click.option("--koma-sum", "koma_sum_out", default=None, help="also write the stack's KOMA sum record here")
@click.option(
    "--koma-settings", "koma_json", default=None, help="config section koma, as JSON (with --koma-sum)"
)
def main(
    stack_sum,
    mask_out,
    defects_out,
    stats_out,
    record,
    stack,
    settings_json,
    gain,
    gain_json,
    readout,
    koma_sum_out,
    koma_json,
) -> None:
    """Find the outliers in STACK_SUM (the stack's sum, from rule ingest): MASK_OUT (MRCZ flags), DEFECTS_OUT (MotionCor2/RELION), STATS_OUT (JSON)."""
    run_guarded(
        stack,
        STEP,
        lambda: outliers(
            stack_sum,
            mask_out,
            defects_out,
            stats_out,
            stack=stack,
            record_path=record,
            settings=OutlierSettings.for_step(STEP, settings_json),
            gain_path=gain,
            gain=GainSettings.for_step(STEP, gain_json) if gain_json else None,
            koma_sum_out=koma_sum_out,
            koma=KomaSettings.for_step(STEP, koma_json) if koma_json else None,
            readout_path=readout,
        ),
    )


if __name__ == "__main__":
    main()
