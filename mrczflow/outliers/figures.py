"""Figures of the outlier filter for the session report: counts over the session (paper Fig. 7), one mask."""

from __future__ import annotations

import os
import textwrap

import numpy as np

from ..figures import empty, plt, save, series_style, session_axis


def plot_outliers(records: dict[str, dict], flagged: dict[str, str], path: str | os.PathLike) -> None:
    """Hot and dead pixels per stack (``records``, in acquisition order) over time and cumulative dose.

    Stacks in ``flagged`` (anomalous) are marked.
    """
    names = list(records)
    if not names:
        return empty(path, "outlier filter off")
    rows = [records[s] for s in names]
    minutes, time_label = session_axis([r.get("timestamp") for r in rows])
    dose = np.cumsum([(r.get("dose_per_frame") or 0) * (r.get("frames") or 0) for r in rows])
    style = series_style(len(rows))
    figure, (by_time, by_dose) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    for axes, xs, label in (
        (by_time, minutes, time_label),
        (by_dose, dose, "cumulative dose (e/px)"),
    ):
        axes.plot(xs, [r["hot"] for r in rows], color="tab:red", label="hot", **style)
        axes.plot(xs, [r["dead"] for r in rows], color="tab:blue", label="dead", **style)
        marks = [i for i, s in enumerate(names) if s in flagged]
        if marks:
            axes.plot(xs[marks], [rows[i]["hot"] for i in marks], "kx", ms=10, label="anomalous")
        axes.set(xlabel=label, ylabel="pixels per stack")
        axes.legend(fontsize=8)
    figure.suptitle("Outlier pixels over the session (paper Fig. 7)")
    save(figure, path)


def plot_mask(flags: np.ndarray | None, stack: str | None, path: str | os.PathLike) -> None:
    """Thumbnail of one stack's outlier mask: hot red, dead blue (pixels dilated to stay visible)."""
    from scipy import ndimage

    if flags is None:
        return empty(path, "no outlier mask yet (no stack through the outlier filter)")

    step = max(1, max(flags.shape) // 512)

    def visible(mask: np.ndarray) -> np.ndarray:
        # A thumbnail pixel is flagged when any pixel of its step x step block is, then grown by one: a lone
        # pixel stays visible. (Dilating the full frame step times first took 0.6 s on a K2 mask.)
        pads = [(0, -size % step) for size in mask.shape]
        blocks = np.pad(mask, pads).reshape(
            (mask.shape[0] + pads[0][1]) // step, step, (mask.shape[1] + pads[1][1]) // step, step
        )
        return ndimage.binary_dilation(blocks.any(axis=(1, 3)))

    hot = visible(flags & 1 > 0)
    dead = visible(flags & 2 > 0)
    image = np.ones((*hot.shape, 3))
    image[hot] = (0.85, 0.1, 0.1)
    image[dead] = (0.1, 0.2, 0.85)
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.imshow(image, interpolation="nearest")
    axes.set(xticks=[], yticks=[])
    name = textwrap.fill(str(stack), 60)  # EPU names run to 60 characters and more
    axes.set_title(f"Outlier mask of the stack with most outliers:\n{name} (hot red, dead blue)", fontsize=10)
    save(figure, path)
