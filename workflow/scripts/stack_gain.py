#!/usr/bin/env python
"""Rule apply_gain: one stack's gamma-corrected gain reference (mrczflow.gainsteps.stack_gain_step).

Memory: the gain reference.
"""

from __future__ import annotations

import click

from mrczflow.gainsteps import stack_gain_step
from mrczflow.steps import run_guarded


@click.command()
@click.argument("record", type=click.Path(dir_okay=False))
@click.argument("fit", type=click.Path(dir_okay=False))
@click.argument("gain", type=click.Path(dir_okay=False))
@click.argument("gain_out", type=click.Path(dir_okay=False))
@click.argument("info_out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option("--gain-rotate", type=click.Choice(["0", "90", "180", "270"]), default="0", show_default=True)
@click.option("--gain-flip", type=click.Choice(["none", "x", "y"]), default="none", show_default=True)
def main(record, fit, gain, gain_out, info_out, stack, gain_rotate, gain_flip) -> None:
    """Write GAIN_OUT = GAIN ** gamma(dose rate of the stack in RECORD) and INFO_OUT (JSON)."""
    run_guarded(
        stack,
        "apply_gain",
        lambda: stack_gain_step(
            record, fit, gain, gain_out, info_out, rotate=int(gain_rotate), flip=gain_flip
        ),
    )


if __name__ == "__main__":
    main()
