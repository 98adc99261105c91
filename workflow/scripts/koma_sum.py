#!/usr/bin/env python
"""Rule koma_sum: a stack's outlier-filtered sum and contrast screen (mrczflow.komasteps.koma_sum_step).

Memory: one stack (the fill of clustered outliers needs every frame).
"""

from __future__ import annotations

import click

from mrczflow.komasteps import koma_sum_step
from mrczflow.steps import run_guarded


@click.command()
@click.argument("counts", type=click.Path(dir_okay=False))
@click.argument("sum_out", type=click.Path(dir_okay=False))
@click.argument("info_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option("--flags", default=None, help="the stack's outlier flags (rule outliers); none: unfiltered sum")
@click.option(
    "--gain", default=None, help="vendor gain reference, divided out before the contrast is measured"
)
@click.option("--gain-rotate", type=click.Choice(["0", "90", "180", "270"]), default="0", show_default=True)
@click.option("--gain-flip", default="none", show_default=True, type=click.Choice(["none", "x", "y"]))
@click.option(
    "--threshold", default=0.08, show_default=True, help="contrast above which a stack is high-contrast"
)
@click.option("--block", default=32, show_default=True, help="block size (px) of the contrast measure")
@click.option(
    "--record", default=None, help="the stack's ingest record (time stamp, dose), copied to INFO_OUT"
)
def main(
    counts, sum_out, info_out, stack, flags, gain, gain_rotate, gain_flip, threshold, block, record
) -> None:
    """Write SUM_OUT (int32 MRCZ) and INFO_OUT (JSON: contrast, high_contrast) for COUNTS."""
    run_guarded(
        stack,
        "koma_sum",
        lambda: koma_sum_step(
            counts,
            sum_out,
            info_out,
            stack_name=stack,
            flags_path=flags,
            gain_path=gain,
            rotate=int(gain_rotate),
            flip=gain_flip,
            threshold=threshold,
            block=block,
            record_path=record,
        ),
    )


if __name__ == "__main__":
    main()
