#!/usr/bin/env python
"""Rule normalise: one movie normalised by paper Eq. 9 (mrczflow.gain.steps.normalise).

Memory: one frame, the gain and the optional CMOS pattern.
"""

from __future__ import annotations

import click

from mrczflow.gain.steps import normalise
from mrczflow.jobs import run_guarded

STEP = "normalise"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("counts", type=click.Path(dir_okay=False))
@click.argument("gain", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--stack", required=True)
@click.option("--cmos", default=None, help="additive CMOS/dark pattern (counts/frame), subtracted first")
def main(counts, gain, out, stack, cmos) -> None:
    """Write OUT = (COUNTS - CMOS) * GAIN, frame by frame, as float32 MRC."""
    run_guarded(stack, STEP, lambda: normalise(counts, gain, out, cmos_path=cmos))


if __name__ == "__main__":
    main()
