#!/usr/bin/env python
"""Rule relion_movie: one movie's RELION metadata STAR with its own gain and hot pixels.

(mrczflow.handoff.steps.relion_movie_step) Memory: the window's running sum and a few frame-sized images.
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.handoff.settings import HandoffSettings
from mrczflow.handoff.steps import relion_movie_step
from mrczflow.jobs import run_guarded
from mrczflow.koma.settings import KomaSettings

STEP = "relion_movie"


@click.command()
@click.argument("record", type=click.Path(dir_okay=False))
@click.argument("movie", type=click.Path(dir_okay=False))
@click.argument("star_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option("--pixel-size", type=float, default=0.0)
@click.option("--gain-out", default=None, help="write the movie's gain here (named in the STAR)")
@click.option("--koma-sum", default=None, help="the stack's KOMA sum (KOMA on)")
@click.option("--window-sum", "window", multiple=True, help="a KOMA sum of the stack's window")
@click.option("--flags", default=None, help="the stack's outlier flags: its hot pixels")
@click.option("--gain", default=None, help="the vendor gain reference")
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
@click.option("--fit", default=None, help="the session's gamma fit (gamma on)")
@click.option("--koma-settings", "koma_json", default=None, help="config section koma, as JSON")
@click.option("--koma-radius", type=int, default=None, help="the KOMA radius in force (rule koma's)")
@click.option("--defect-file", default=None, help="the session's defect list (rule handoff)")
@click.option("--settings", "settings_json", required=True, help="config section handoff, as JSON")
def main(
    record,
    movie,
    star_out,
    stack,
    pixel_size,
    gain_out,
    koma_sum,
    window,
    flags,
    gain,
    gain_json,
    fit,
    koma_json,
    koma_radius,
    defect_file,
    settings_json,
) -> None:
    """Write STAR_OUT (and the gain at --gain-out)."""
    settings = HandoffSettings.for_step(STEP, settings_json)
    run_guarded(
        stack,
        STEP,
        lambda: relion_movie_step(
            record,
            movie,
            star_out,
            fmt=settings.format,
            optics=settings.optics(pixel_size),
            gain_out=gain_out,
            koma_sum=koma_sum,
            window=window,
            flags=flags,
            vendor_gain=gain,
            gain=GainSettings.for_step(STEP, gain_json) if gain_json else None,
            fit_path=fit,
            koma=KomaSettings.for_step(STEP, koma_json) if koma_json else None,
            koma_radius=koma_radius,
            defect_file=defect_file,
        ),
    )


if __name__ == "__main__":
    main()
