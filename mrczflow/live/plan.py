"""What a live pass plans: the stacks it can change, so a pass costs the same whatever the session's size."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def stacks_to_plan(stacks: list[str], done: Callable[[str], bool], reach: int) -> list[str]:
    """The stacks (in session order) not ``done``, every stack within ``reach`` of one, and the last ``reach + 1``.

    ``reach`` is how far a stack's KOMA window can reach (two radii: a
    trailing window holds the ``2 radius`` stacks before it): a stack that
    is new, failed or unfinished changes only the windows within that
    distance. Everything else is done, and its window can no longer change
    until the final pass.
    """
    n = len(stacks)
    starts = np.zeros(n + 1, np.int64)  # +1 where a planned run starts, -1 after it ends
    for index, stack in enumerate(stacks):
        if not done(stack):
            starts[max(0, index - reach)] += 1
            starts[min(n, index + reach + 1)] -= 1
    starts[max(0, n - reach - 1)] += 1
    starts[n] -= 1
    planned = np.cumsum(starts[:n]) > 0
    return [stack for stack, keep in zip(stacks, planned, strict=True) if keep]
