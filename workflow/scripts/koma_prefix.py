#!/usr/bin/env python
"""Rule koma_prefix: one link of the session's prefix-sum chain (mrczflow.koma.steps.koma_prefix).

Memory: two frame-sized integer images.
"""

from __future__ import annotations

import click

from mrczflow.jobs import run_guarded
from mrczflow.koma.settings import KomaSettings
from mrczflow.koma.steps import koma_prefix

STEP = "koma_prefix"  # the name of the rule, of this script and of its step function


@click.command()
@click.argument("sum_path", type=click.Path(dir_okay=False))
@click.argument("info", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--previous", default=None, help="the previous stack's prefix; none for the session's first stack"
)
@click.option("--stack", required=True)
@click.option("--settings", "settings_json", default=None, help="config section koma, as JSON")
def main(sum_path, info, out, previous, stack, settings_json) -> None:
    """Write OUT = PREVIOUS + SUM_PATH (unless the stack is excluded from KOMA windows)."""
    run_guarded(
        stack,
        STEP,
        lambda: koma_prefix(
            previous, sum_path, info, out, stack=stack, settings=KomaSettings.for_step(STEP, settings_json)
        ),
    )


if __name__ == "__main__":
    main()
