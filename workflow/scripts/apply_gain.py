#!/usr/bin/env python
"""Rule apply_gain: one stack's gamma-corrected gain reference (mrczflow.gain.steps.apply_gain).

Memory: the gain reference.
"""

from __future__ import annotations

import click

from mrczflow.gain.settings import GainSettings
from mrczflow.gain.steps import apply_gain
from mrczflow.jobs import run_guarded

STEP = "apply_gain"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("record", type=click.Path(dir_okay=False))
@click.argument("fit", type=click.Path(dir_okay=False))
@click.argument("gain", type=click.Path(dir_okay=False))
@click.argument("gain_out", type=click.Path(dir_okay=False))
@click.argument("info_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option("--gain-settings", "gain_json", default=None, help="config section gain, as JSON")
def main(record, fit, gain, gain_out, info_out, stack, gain_json) -> None:
    """Write GAIN_OUT = GAIN ** gamma(dose rate of the stack in RECORD) and INFO_OUT (JSON)."""
    run_guarded(
        stack,
        STEP,
        lambda: apply_gain(
            record, fit, gain, gain_out, info_out, gain=GainSettings.for_step(STEP, gain_json)
        ),
    )


if __name__ == "__main__":
    main()
