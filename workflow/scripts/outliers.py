#!/usr/bin/env python
"""Rule outliers: per-stack hot/dead pixel detection (mrczflow.steps.outlier_step).

Memory: the stack sum and a few frame-sized arrays (frames are streamed).
"""

from __future__ import annotations

import click

from mrczflow.outliers import OutlierParams
from mrczflow.steps import outlier_step, run_guarded


@click.command()
@click.argument("counts", type=click.Path(dir_okay=False))
@click.argument("mask_out", type=click.Path(dir_okay=False))
@click.argument("defects_out", type=click.Path(dir_okay=False))
@click.argument("stats_out", type=click.Path(dir_okay=False))
@click.option(
    "--record", default=None, help="the stack's ingest record (time stamp, dose), copied to the stats"
)
@click.option("--stack", required=True)
@click.option("--order", default=6.0, show_default=True, help="logistic order k (paper Eq. 6)")
@click.option("--relaxation", default=0.95, show_default=True, help="threshold relaxation rho (paper Eq. 6)")
@click.option("--tail-limit", default=0.5, show_default=True, help="|residual| above which tails are fitted")
@click.option("--floor-sigma", default=4.26, show_default=True, help="thresholds never nearer the centre")
def main(
    counts, mask_out, defects_out, stats_out, record, stack, order, relaxation, tail_limit, floor_sigma
) -> None:
    """Find the outliers of COUNTS: MASK_OUT (MRCZ flags), DEFECTS_OUT (MotionCor2/RELION), STATS_OUT (JSON)."""
    params = OutlierParams(order=order, relaxation=relaxation, tail_limit=tail_limit, floor_sigma=floor_sigma)
    run_guarded(
        stack, "outliers", lambda: outlier_step(counts, mask_out, defects_out, stats_out, record, params)
    )


if __name__ == "__main__":
    main()
