"""KOMA's figures for the session report: correlated noise per stack, and versus radius (paper Fig. 12)."""

from __future__ import annotations

import os

import numpy as np

from ..figures import empty, plt, save, series_style, session_axis


def plot_koma(
    records: dict[str, dict], path: str | os.PathLike, stamps: list[str | None] | None = None
) -> None:
    """Correlated noise of each stack over the session with the gain alone and after KOMA.

    ``records``: koma statistics in acquisition order; ``stamps`` their time
    stamps (the x axis; else the acquisition order). High-contrast stacks are marked.
    """
    names = list(records)
    if not names:
        return empty(path, "KOMA off")
    x, x_label = session_axis(stamps if stamps is not None else [None] * len(names))
    style = series_style(len(names))
    before = [records[s]["correlated_noise_before"] for s in names]
    after = [records[s]["correlated_noise_after"] for s in names]
    high = [i for i, s in enumerate(names) if records[s]["high_contrast"]]
    figure, axes = plt.subplots(figsize=(9, 4), dpi=100)
    axes.plot(x, before, color="grey", label="gain only", **style)
    axes.plot(x, after, color="tab:green", label="outlier filter + KOMA", **style)
    if high:
        axes.plot(x[high], [after[i] for i in high], "kx", ms=8, label="high contrast: kept out of windows")
    axes.axhline(0, color="k", lw=0.5)
    axes.set(
        xlabel=x_label,
        ylabel="correlated noise (Pearson, Eq. 7)",
        title="Fixed-pattern noise per stack, before and after",
    )
    axes.legend(fontsize=8)
    save(figure, path)


def plot_radius(
    curves: dict[str, list[tuple[int, float]]],
    baseline: float,
    path: str | os.PathLike,
    configured: int | None = None,
) -> None:
    """Correlated noise versus KOMA radius on sample stacks of this session (paper Fig. 12).

    ``configured``: the session's ``koma.radius``, drawn as a line.
    """
    if not curves:
        return empty(path, "KOMA off")
    figure, axes = plt.subplots(figsize=(8, 4), dpi=100)
    for stack, points in curves.items():
        radii, values = zip(*points, strict=True)
        axes.plot(radii, values, "o-", ms=3, lw=1, label=stack)
    mean: dict[int, list[float]] = {}
    for points in curves.values():
        for radius, value in points:
            mean.setdefault(radius, []).append(value)
    radii = sorted(mean)
    axes.plot(radii, [np.mean(mean[r]) for r in radii], "k-", lw=2.5, label="mean")
    axes.axhline(baseline, color="grey", ls="--", label="gain only (mean)")
    if configured is not None:
        axes.axvline(configured, color="tab:red", ls=":", label=f"koma.radius = {configured}")
    axes.axhline(0, color="k", lw=0.5)
    axes.set(
        xlabel="KOMA radius a (stacks)",
        ylabel="correlated noise",
        title="KOMA radius on this session (Fig. 12)",
    )
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(figure, path)
