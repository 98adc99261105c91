"""The session report's figures (PNG, matplotlib, headless): storage, outliers (Fig. 7), KOMA (Fig. 12)."""

from __future__ import annotations

import datetime as dt
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend
import numpy as np  # noqa: E402

from .fileio import atomic_path  # noqa: E402
from .sessionreport import Session, anomalous  # noqa: E402


def _save(figure, path: str | os.PathLike) -> None:
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    plt.close(figure)


def _empty(path: str | os.PathLike, message: str) -> None:
    figure, axes = plt.subplots(figsize=(6, 1.5), dpi=100)
    axes.axis("off")
    axes.text(0.5, 0.5, message, ha="center", va="center")
    _save(figure, path)


def plot_storage(session: Session, path: str | os.PathLike) -> None:
    """Per-stack size before/after and % of the entropy bound; MB/s of each stage."""
    names = session.processed
    if not names:
        return _empty(path, "no stack was compressed")
    x = np.arange(len(names))
    figure, (sizes, bound, speed) = plt.subplots(3, 1, figsize=(9, 8), dpi=100)
    source = np.array([session.storage[s]["source_bytes"] for s in names]) / 1e6
    stored = np.array([session.storage[s]["mrcz_bytes"] for s in names]) / 1e6
    sizes.bar(x, source, color="lightgrey", label="as the detector wrote it")
    sizes.bar(x, stored, color="tab:blue", label="MRCZ archive")
    totals = session.totals()
    sizes.set(ylabel="MB", title=f"Storage: {totals['ratio']:.1f}x smaller overall")
    sizes.legend(fontsize=8)
    percent = [session.storage[s].get("percent_of_entropy_bound", np.nan) for s in names]
    bound.plot(x, percent, "o-", ms=3)
    bound.axhline(100, color="grey", ls=":")
    bound.set(ylabel="% of entropy bound", ylim=(0, 105), title="Compression vs the best lossless coder")
    for axes in (sizes, bound):
        axes.set_xticks(
            x[:: max(1, len(x) // 12)], [names[i] for i in x[:: max(1, len(x) // 12)]], fontsize=7
        )
    rates = session.throughput()
    speed.barh(list(rates), list(rates.values()), color="tab:green")
    speed.set(xlabel="MB/s of source data (per job, summed job time)", title="Throughput of each stage")
    _save(figure, path)


def _times(session: Session, names: list[str]) -> np.ndarray:
    stamps = [session.outliers[s].get("timestamp") for s in names]
    if all(stamps):
        start = dt.datetime.fromisoformat(stamps[0])
        return np.array([(dt.datetime.fromisoformat(t) - start).total_seconds() / 60 for t in stamps])
    return np.arange(len(names), dtype=float)


def plot_outliers(session: Session, path: str | os.PathLike) -> None:
    """Hot and dead pixels per stack against time and cumulative dose (paper Fig. 7); anomalies marked."""
    names = [s for s in session.stacks if s in session.outliers]
    if not names:
        return _empty(path, "outlier filter off")
    records = [session.outliers[s] for s in names]
    minutes = _times(session, names)
    dose = np.cumsum([(r.get("dose_per_frame") or 0) * (r.get("frames") or 0) for r in records])
    figure, (by_time, by_dose) = plt.subplots(1, 2, figsize=(10, 4), dpi=100)
    flagged = anomalous(session)
    for axes, xs, label in (
        (by_time, minutes, "minutes since the first stack"),
        (by_dose, dose, "cumulative dose (e/px)"),
    ):
        axes.plot(xs, [r["hot"] for r in records], "o-", ms=3, color="tab:red", label="hot")
        axes.plot(xs, [r["dead"] for r in records], "s-", ms=3, color="tab:blue", label="dead")
        marks = [i for i, s in enumerate(names) if s in flagged]
        if marks:
            axes.plot(xs[marks], [records[i]["hot"] for i in marks], "kx", ms=10, label="anomalous")
        axes.set(xlabel=label, ylabel="pixels per stack")
        axes.legend(fontsize=8)
    figure.suptitle("Outlier pixels over the session (paper Fig. 7)")
    _save(figure, path)


def plot_mask(flags: np.ndarray | None, stack: str | None, path: str | os.PathLike) -> None:
    """Thumbnail of one stack's outlier mask: hot red, dead blue (pixels dilated to stay visible)."""
    from scipy import ndimage

    if flags is None:
        return _empty(path, "no outlier mask yet (no stack through the outlier filter)")

    step = max(1, max(flags.shape) // 512)
    grow = max(1, step)
    hot = ndimage.binary_dilation(flags & 1 > 0, iterations=grow)[::step, ::step]
    dead = ndimage.binary_dilation(flags & 2 > 0, iterations=grow)[::step, ::step]
    image = np.ones((*hot.shape, 3))
    image[hot] = (0.85, 0.1, 0.1)
    image[dead] = (0.1, 0.2, 0.85)
    figure, axes = plt.subplots(figsize=(5, 5), dpi=100)
    axes.imshow(image, interpolation="nearest")
    axes.set(title=f"Outlier mask of {stack} (most outliers): hot red, dead blue", xticks=[], yticks=[])
    _save(figure, path)


def plot_koma(session: Session, path: str | os.PathLike) -> None:
    """Correlated noise per stack with the gain alone and after KOMA; high-contrast stacks marked."""
    names = [s for s in session.stacks if s in session.koma]
    if not names:
        return _empty(path, "KOMA off")
    x = np.arange(len(names))
    before = [session.koma[s]["correlated_noise_before"] for s in names]
    after = [session.koma[s]["correlated_noise_after"] for s in names]
    high = [i for i, s in enumerate(names) if session.koma[s]["high_contrast"]]
    figure, axes = plt.subplots(figsize=(9, 4), dpi=100)
    axes.plot(x, before, "o-", ms=3, color="grey", label="gain only")
    axes.plot(x, after, "o-", ms=3, color="tab:green", label="outlier filter + KOMA")
    if high:
        axes.plot(high, [after[i] for i in high], "kx", ms=10, label="high contrast: kept out of windows")
    axes.axhline(0, color="k", lw=0.5)
    axes.set_xticks(x[:: max(1, len(x) // 12)], [names[i] for i in x[:: max(1, len(x) // 12)]], fontsize=7)
    axes.set(
        ylabel="correlated noise (Pearson, Eq. 7)", title="Fixed-pattern noise per stack, before and after"
    )
    axes.legend(fontsize=8)
    _save(figure, path)


def plot_radius(curves: dict[str, list[tuple[int, float]]], baseline: float, path: str | os.PathLike) -> None:
    """Correlated noise versus KOMA radius on sample stacks of this session (paper Fig. 12)."""
    if not curves:
        return _empty(path, "KOMA off")
    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for stack, points in curves.items():
        radii, values = zip(*points, strict=True)
        axes.plot(radii, values, "o-", ms=3, lw=1, label=stack)
    mean = {}
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
    _save(figure, path)
