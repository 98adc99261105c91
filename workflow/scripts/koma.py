#!/usr/bin/env python
"""Rule koma: normalise one stack with its knock-out moving average (mrczflow.koma.steps.koma).

Memory: the window's sums, the stack's halves and the gain (and one frame for a movie).
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.jobs import run_guarded
from mrczflow.koma.settings import KomaSettings
from mrczflow.koma.steps import koma

STEP = "koma"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("half", type=click.Path(dir_okay=False))
@click.argument("sum_path", type=click.Path(dir_okay=False))
@click.argument("stats_out", type=click.Path(dir_okay=False))
@click.option(
    "--window-sum", "window", multiple=True, required=True, help="a sum of the window (rule koma_sum)"
)
@click.option("--stack", required=True)
@click.option("--radius", required=True, type=int, help="the radius in force (clamped to the session)")
@click.option("--counts", default=None, help="the stack's archive (rule ingest): for --movie-out")
@click.option("--flags", default=None, help="the stack's outlier flags (rule outliers): for --movie-out")
@click.option(
    "--gain", default=None, help="gain applied before KOMA: the stack's gamma gain or the vendor gain"
)
@click.option(
    "--gain-settings", "gain_json", default=None, help="config section gain (orients a vendor gain), as JSON"
)
@click.option("--settings", "settings_json", default=None, help="config section koma, as JSON")
@click.option("--gain-out", default=None, help="write the gain reference (float32 MRC) here")
@click.option("--movie-out", default=None, help="write the normalised movie here")
def main(
    half,
    sum_path,
    stats_out,
    window,
    stack,
    radius,
    counts,
    flags,
    gain,
    gain_json,
    settings_json,
    gain_out,
    movie_out,
) -> None:
    """Write STATS_OUT (JSON) from the stack's HALF sum and KOMA SUM_PATH, and optionally the gain reference
    and the movie."""
    run_guarded(
        stack,
        STEP,
        lambda: koma(
            half,
            sum_path,
            window,
            gain_out,
            stats_out,
            stack=stack,
            radius=radius,
            gain_path=gain,
            gain=GainSettings.for_step(STEP, gain_json) if gain_json else None,
            settings=KomaSettings.for_step(STEP, settings_json),
            movie_out=movie_out,
            counts_path=counts,
            flags_path=flags,
        ),
    )


if __name__ == "__main__":
    main()
