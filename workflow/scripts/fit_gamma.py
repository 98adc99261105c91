#!/usr/bin/env python
"""Rule fit_gamma: gamma(delta) from the vacuum references (mrczflow.gain.steps.fit_gamma).

Memory: one frame, one reference sum and the gain at a time.
"""

from __future__ import annotations

import click

from mrczflow.gain.fit import GammaFitError
from mrczflow.gain.settings import GainSettings, GammaSettings
from mrczflow.gain.steps import fit_gamma
from mrczflow.jobs import run_guarded

STEP = "fit_gamma"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("references", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--gain", required=True, help="vendor gain reference")
@click.option("--fit-out", required=True, help="fitted model (YAML)")
@click.option("--plot-out", required=True, help="Fig. 9 plot (PNG)")
@click.option("--settings", "settings_json", default=None, help="config section gamma, as JSON")
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
def main(references, gain, fit_out, plot_out, settings_json, gain_json) -> None:
    """Fit Eq. 11 to the best gamma (Eq. 10) of each vacuum reference in REFERENCES."""

    def fit():
        try:
            fit_gamma(
                references,
                gain,
                fit_out,
                plot_out,
                settings=GammaSettings.for_step(STEP, settings_json),
                gain=GainSettings.for_step(STEP, gain_json),
            )
        except GammaFitError as exc:
            raise ValueError(str(exc)) from None

    run_guarded("references", STEP, fit)


if __name__ == "__main__":
    main()
