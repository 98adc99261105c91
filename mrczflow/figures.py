"""Figure style shared by every stage's figures: headless PNG, saved atomically."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend

from .fileio import atomic_path  # noqa: E402

__all__ = ["plt", "save", "empty", "tick_every"]


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


def tick_every(n: int, most: int = 12) -> int:
    """Label every k-th of ``n`` items so at most ``most`` labels are drawn."""
    return max(1, n // most)
