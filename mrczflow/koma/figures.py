"""KOMA's figures for the session report: correlated noise per stack, and versus radius (paper Fig. 12)."""

from __future__ import annotations

import os

import numpy as np

from ..figures import empty, plt, save, series_style, session_axis


def plot_koma(
    records: dict[str, dict], path: str | os.PathLike, stamps: list[str | None] | None = None
) -> None:
    """Correlated noise, and the DQE lost to the fixed pattern, of each stack over the session, with the gain
    alone and after KOMA.

    ``records``: koma statistics in acquisition order; ``stamps`` their time
    stamps (the x axis; else the acquisition order). High-contrast stacks are
    marked. The DQE panel is drawn when the records hold it (records written
    before it was measured do not).
    """
    names = list(records)
    if not names:
        return empty(path, "KOMA off")
    x, x_label = session_axis(stamps if stamps is not None else [None] * len(names))
    style = series_style(len(names))
    high = [i for i, s in enumerate(names) if records[s]["high_contrast"]]
    panels = [("correlated_noise", "correlated noise (Pearson, Eq. 7)", 1.0)]
    if all("fixed_pattern_loss_after" in records[s] for s in names):
        panels.append(("fixed_pattern_loss", "DQE lost to the fixed pattern (%)", 100.0))
    figure, rows = plt.subplots(
        len(panels), 1, figsize=(9, 3.2 * len(panels)), dpi=100, sharex=True, squeeze=False
    )
    for axes, (key, label, scale) in zip(rows[:, 0], panels, strict=True):
        before = [scale * records[s][f"{key}_before"] for s in names]
        after = [scale * records[s][f"{key}_after"] for s in names]
        axes.plot(x, before, color="grey", label="gain only", **style)
        axes.plot(x, after, color="tab:green", label="outlier filter + KOMA", **style)
        if high:
            axes.plot(
                x[high], [after[i] for i in high], "kx", ms=8, label="high contrast: kept out of windows"
            )
        axes.axhline(0, color="k", lw=0.5)
        axes.set(ylabel=label)
    rows[0, 0].set(title="Fixed-pattern noise per stack, before and after")
    rows[-1, 0].set(xlabel=x_label)
    rows[0, 0].legend(fontsize=8)
    save(figure, path)


def plot_radius(
    curves: dict[str, list[tuple[int, float]]],
    baseline: float,
    path: str | os.PathLike,
    configured: int | None = None,
) -> None:
    """Correlated noise versus KOMA radius on sample stacks of this session (paper Fig. 12).

    ``configured``: the radius rule koma used (``koma.radius``, clamped to a short session), drawn as a line.
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
        axes.axvline(configured, color="tab:red", ls=":", label=f"radius in force = {configured}")
    axes.axhline(0, color="k", lw=0.5)
    axes.set(
        xlabel="KOMA radius a (stacks)",
        ylabel="correlated noise",
        title="KOMA radius on this session (Fig. 12)",
    )
    axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    save(figure, path)
