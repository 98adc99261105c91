"""The storage figure of the session report: sizes, % of the entropy bound, throughput per stage."""

from __future__ import annotations

import os

import numpy as np

from ..figures import empty, plt, save, series_style, session_axis


def plot_storage(
    records: dict[str, dict],
    ratio: float,
    rates: dict[str, float],
    path: str | os.PathLike,
    movies_per_minute: dict[str, float] | None = None,
    microscope: float | None = None,
    stamps: list[str | None] | None = None,
) -> None:
    """Size before/after and % of the entropy bound of each movie over the session, and the pace.

    ``records``: ingest's storage summaries in acquisition order, ``stamps``
    their time stamps (the x axis; else the acquisition order); ``ratio`` the
    session's overall ratio; ``rates`` MB/s of each stage; ``movies_per_minute``
    each stage's (and all stages') movies a minute on one core, drawn against
    ``microscope``, the movies a minute the microscope acquired (a line: bars
    past it keep up on one core).
    """
    names = list(records)
    if not names:
        return empty(path, "no stack was compressed")
    x, x_label = session_axis(stamps if stamps is not None else [None] * len(names))
    style = series_style(len(names))
    figure, (sizes, bound, speed) = plt.subplots(3, 1, figsize=(9, 8), dpi=100)
    source = np.array([records[s]["source_bytes"] for s in names]) / 1e6
    stored = np.array([records[s]["mrcz_bytes"] for s in names]) / 1e6
    sizes.plot(x, source, color="grey", label="as the detector wrote it", **style)
    sizes.plot(x, stored, color="tab:blue", label="MRCZ archive", **style)
    sizes.set(
        ylabel="MB a movie", xlabel=x_label, ylim=(0, None), title=f"Storage: {ratio:.1f}x smaller overall"
    )
    sizes.legend(fontsize=8, loc="center right")
    percent = [records[s].get("percent_of_entropy_bound", np.nan) for s in names]
    bound.plot(x, percent, color="tab:blue", **style)
    bound.axhline(100, color="grey", ls=":")
    bound.set(
        ylabel="% of entropy bound",
        xlabel=x_label,
        ylim=(0, 105),
        title="Compression vs the best lossless coder",
    )
    if movies_per_minute:
        names_ = list(movies_per_minute)
        values = [movies_per_minute[n] for n in names_]
        speed.barh(names_, values, color="tab:green")
        for row, name in enumerate(names_):
            label = f" {values[row]:.1f}/min" + (f", {rates[name]:.0f} MB/s" if name in rates else "")
            speed.text(values[row], row, label, va="center", fontsize=7)
        right = max(values + [microscope or 0.0])
        speed.set_xlim(0, right * 1.3)  # room for the labels beside the longest bar
        if microscope:
            speed.axvline(
                microscope, color="tab:red", ls="--", label=f"microscope: {microscope:.1f} movies/min"
            )
            speed.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        speed.set(xlabel="movies a minute on one core (summed job time)", title="Does it keep up?")
    elif rates:
        speed.barh(list(rates), list(rates.values()), color="tab:green")
        speed.set(xlabel="MB/s of source data (per job, summed job time)", title="Throughput of each stage")
    else:
        speed.axis("off")
        speed.text(0.5, 0.5, "no job times yet (logs/benchmark/)", ha="center", va="center")
    save(figure, path)
