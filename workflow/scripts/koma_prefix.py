#!/usr/bin/env python
"""Rule koma_prefix: one link of the session's prefix-sum chain (mrczflow.komasteps.koma_prefix_step).

Memory: two frame-sized integer images.
"""

from __future__ import annotations

import click

from mrczflow.komasteps import koma_prefix_step
from mrczflow.steps import run_guarded


@click.command()
@click.argument("sum_path", type=click.Path(dir_okay=False))
@click.argument("info", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path(dir_okay=False))
@click.option(
    "--previous", default=None, help="the previous stack's prefix; none for the session's first stack"
)
@click.option("--stack", required=True)
@click.option(
    "--decision",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "include", "exclude"]),
    help="auto follows the contrast screen; include/exclude come from the config lists",
)
def main(sum_path, info, out, previous, stack, decision) -> None:
    """Write OUT = PREVIOUS + SUM_PATH (unless the stack is excluded from KOMA windows)."""
    run_guarded(
        stack,
        "koma_prefix",
        lambda: koma_prefix_step(previous, sum_path, info, out, stack_name=stack, decision=decision),
    )


if __name__ == "__main__":
    main()
