"""Figure style shared by every stage's figures: headless PNG, saved atomically."""

from __future__ import annotations

import datetime as dt
import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend

from .fileio import atomic_path  # noqa: E402

__all__ = ["plt", "save", "empty", "session_axis", "series_style"]


def save(figure, path: str | os.PathLike) -> None:
    """Lay out, write as PNG under a temporary name, rename, close."""
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)


def empty(path: str | os.PathLike, message: str) -> None:
    """A small figure that says why there is nothing to draw."""
    figure, axes = plt.subplots(figsize=(6, 1.5), dpi=100)
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center")
    save(figure, path)


def session_axis(stamps: list[str | None]) -> tuple[np.ndarray, str]:
    """The x axis of a per-stack figure: minutes since the first stack, from the stacks' time stamps.

    Stack names never go on an axis (unreadable beyond a few dozen); without
    a time stamp for every stack the axis is the stack's place in acquisition order.
    """
    try:
        times = [dt.datetime.fromisoformat(stamp) for stamp in stamps]  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return np.arange(len(stamps), dtype=float), "stack (acquisition order)"
    if not times:
        return np.zeros(0), "minutes since the first stack"
    start = min(times)
    return np.array([(t - start).total_seconds() / 60 for t in times]), "minutes since the first stack"


def series_style(n: int) -> dict:
    """Markers and lines for a series of ``n`` stacks: joined points for a few, small dots for thousands."""
    if n <= 200:
        return {"marker": "o", "ms": 3, "ls": "-"}
    return {"marker": ".", "ms": 2, "ls": "none"}
