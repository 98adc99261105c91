"""KOMA's figures for the session report: correlated noise per stack, and versus radius (paper Fig. 12)."""

from __future__ import annotations

import os

import numpy as np

from ..figures import empty, plt, save, tick_every


def plot_koma(records: dict[str, dict], path: str | os.PathLike) -> None:
    """Correlated noise per stack (``records``: koma statistics in order) with the gain alone and after KOMA;
    high-contrast stacks marked."""
    names = list(records)
    if not names:
        return empty(path, "KOMA off")
    x = np.arange(len(names))
    before = [records[s]["correlated_noise_before"] for s in names]
    after = [records[s]["correlated_noise_after"] for s in names]
    high = [i for i, s in enumerate(names) if records[s]["high_contrast"]]
    figure, axes = plt.subplots(figsize=(9, 4), dpi=100)
    axes.plot(x, before, "o-", ms=3, color="grey", label="gain only")
    axes.plot(x, after, "o-", ms=3, color="tab:green", label="outlier filter + KOMA")
    if high:
        axes.plot(high, [after[i] for i in high], "kx", ms=10, label="high contrast: kept out of windows")
    axes.axhline(0, color="k", lw=0.5)
    every = tick_every(len(x))
    axes.set_xticks(x[::every], [names[i] for i in x[::every]], fontsize=7)
    axes.set(
        ylabel="correlated noise (Pearson, Eq. 7)", title="Fixed-pattern noise per stack, before and after"
    )
    axes.legend(fontsize=8)
    save(figure, path)


def plot_radius(curves: dict[str, list[tuple[int, float]]], baseline: float, path: str | os.PathLike) -> None:
    """Correlated noise versus KOMA radius on sample stacks of this session (paper Fig. 12)."""
    if not curves:
        return empty(path, "KOMA off")
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
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
    axes.axhline(0, color="k", lw=0.5)
    axes.set(
        xlabel="KOMA radius a (stacks)",
        ylabel="correlated noise",
        title="KOMA radius on this session (Fig. 12)",
    )
    axes.legend(fontsize=7)
    save(figure, path)
