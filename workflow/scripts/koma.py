#!/usr/bin/env python
"""Rule koma: normalise one stack with its knock-out moving average (mrczflow.komasteps.koma_step).

Memory: one stack, its sum, two prefix images and the gain.
"""

from __future__ import annotations

import click

from mrczflow.komasteps import koma_step
from mrczflow.steps import run_guarded


@click.command()
@click.argument("counts", type=click.Path(dir_okay=False))
@click.argument("sum_path", type=click.Path(dir_okay=False))
@click.argument("prefix_hi", type=click.Path(dir_okay=False))
@click.argument("gain_out", type=click.Path(dir_okay=False))
@click.argument("stats_out", type=click.Path(dir_okay=False))
@click.option("--prefix-lo", default=None, help="prefix before the window; none when it starts the session")
@click.option("--stack", required=True)
@click.option(
    "--window", required=True, help="comma-separated stacks of the window, the stack itself included"
)
@click.option("--radius", required=True, type=int)
@click.option("--flags", default=None, help="the stack's outlier flags (rule outliers)")
@click.option(
    "--gain", default=None, help="gain applied before KOMA: the stack's gamma gain or the vendor gain"
)
@click.option("--gain-rotate", type=click.Choice(["0", "90", "180", "270"]), default="0", show_default=True)
@click.option("--gain-flip", default="none", show_default=True, type=click.Choice(["none", "x", "y"]))
@click.option("--form", default="divide", show_default=True, type=click.Choice(["divide", "subtract"]))
@click.option("--denoise/--no-denoise", default=True, show_default=True, help="Wiener-filter the KOMA term")
@click.option("--movie-out", default=None, help="write the normalised movie here")
@click.option(
    "--movie-dtype", default="float32", show_default=True, type=click.Choice(["float32", "float16"])
)
@click.option(
    "--movie-compression", default="none", show_default=True, type=click.Choice(["none", "zstd", "lz4"])
)
def main(
    counts,
    sum_path,
    prefix_hi,
    gain_out,
    stats_out,
    prefix_lo,
    stack,
    window,
    radius,
    flags,
    gain,
    gain_rotate,
    gain_flip,
    form,
    denoise,
    movie_out,
    movie_dtype,
    movie_compression,
) -> None:
    """Write GAIN_OUT (float32 MRC gain reference) and STATS_OUT (JSON), and optionally the movie."""
    run_guarded(
        stack,
        "koma",
        lambda: koma_step(
            counts,
            sum_path,
            prefix_lo,
            prefix_hi,
            gain_out,
            stats_out,
            stack_name=stack,
            window_stacks=window.split(","),
            radius=radius,
            flags_path=flags,
            gain_path=gain,
            rotate=int(gain_rotate),
            flip=gain_flip,
            form=form,
            denoise=denoise,
            movie_out=movie_out,
            movie_dtype=movie_dtype,
            movie_compression=movie_compression,
        ),
    )


if __name__ == "__main__":
    main()
