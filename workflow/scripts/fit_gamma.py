#!/usr/bin/env python
"""Rule fit_gamma: gamma(delta) from the vacuum references (mrczflow.gainsteps.fit_gamma_step).

Memory: one frame, one reference sum and the gain at a time.
"""

from __future__ import annotations

import click

from mrczflow.gainsteps import fit_gamma_step
from mrczflow.gammafit import GammaFitError
from mrczflow.steps import run_guarded


@click.command()
@click.argument("references", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--gain", required=True, help="vendor gain reference")
@click.option("--fit-out", required=True, help="fitted model (YAML)")
@click.option("--plot-out", required=True, help="Fig. 9 plot (PNG)")
@click.option("--gain-rotate", type=click.Choice(["0", "90", "180", "270"]), default="0", show_default=True)
@click.option("--gain-flip", type=click.Choice(["none", "x", "y"]), default="none", show_default=True)
@click.option("--patch", default=64, show_default=True, help="uniform filter size of Eq. 10, px")
@click.option("--fallback-unity", is_flag=True, help="use gamma = 1 when the series cannot be fitted")
def main(references, gain, fit_out, plot_out, gain_rotate, gain_flip, patch, fallback_unity) -> None:
    """Fit Eq. 11 to the best gamma (Eq. 10) of each vacuum reference in REFERENCES."""

    def fit():
        try:
            fit_gamma_step(
                references,
                gain,
                fit_out,
                plot_out,
                rotate=int(gain_rotate),
                flip=gain_flip,
                patch=patch,
                allow_fallback=fallback_unity,
            )
        except GammaFitError as exc:
            raise ValueError(str(exc)) from None

    run_guarded("references", "fit_gamma", fit)


if __name__ == "__main__":
    main()
