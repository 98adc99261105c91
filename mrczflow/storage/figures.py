"""The storage figure of the session report: sizes, % of the entropy bound, throughput per stage."""

from __future__ import annotations

import os

import numpy as np

from ..figures import empty, plt, save, tick_every


def plot_storage(
    records: dict[str, dict],
    ratio: float,
    rates: dict[str, float],
    path: str | os.PathLike,
    movies_per_minute: dict[str, float] | None = None,
    microscope: float | None = None,
) -> None:
    """Per-stack size before/after and % of the entropy bound (``records``: ingest's storage summaries in order);
    ``ratio`` the session's overall ratio; ``rates`` MB/s of each stage; ``movies_per_minute`` each
    stage's (and all stages') movies a minute on one core, drawn against ``microscope``, the movies a
    minute the microscope acquired (a line: bars past it keep up on one core)."""
    names = list(records)
    if not names:
        return empty(path, "no stack was compressed")
    x = np.arange(len(names))
    figure, (sizes, bound, speed) = plt.subplots(3, 1, figsize=(9, 8), dpi=100)
    source = np.array([records[s]["source_bytes"] for s in names]) / 1e6
    stored = np.array([records[s]["mrcz_bytes"] for s in names]) / 1e6
    sizes.bar(x, source, color="lightgrey", label="as the detector wrote it")
    sizes.bar(x, stored, color="tab:blue", label="MRCZ archive")
    sizes.set(ylabel="MB", title=f"Storage: {ratio:.1f}x smaller overall")
    sizes.legend(fontsize=8)
    percent = [records[s].get("percent_of_entropy_bound", np.nan) for s in names]
    bound.plot(x, percent, "o-", ms=3)
    bound.axhline(100, color="grey", ls=":")
    bound.set(ylabel="% of entropy bound", ylim=(0, 105), title="Compression vs the best lossless coder")
    every = tick_every(len(x))
    for axes in (sizes, bound):
        axes.set_xticks(x[::every], [names[i] for i in x[::every]], fontsize=7)
    if movies_per_minute:
        names_ = list(movies_per_minute)
        values = [movies_per_minute[n] for n in names_]
        speed.barh(names_, values, color="tab:green")
        for row, name in enumerate(names_):
            label = f" {values[row]:.1f}/min" + (f", {rates[name]:.0f} MB/s" if name in rates else "")
            speed.text(values[row], row, label, va="center", fontsize=7)
        if microscope:
            speed.axvline(
                microscope, color="tab:red", ls="--", label=f"microscope: {microscope:.1f} movies/min"
            )
            speed.legend(fontsize=8, loc="lower right")
        speed.set(xlabel="movies a minute on one core (summed job time)", title="Does it keep up?")
    else:
        speed.barh(list(rates), list(rates.values()), color="tab:green")
        speed.set(xlabel="MB/s of source data (per job, summed job time)", title="Throughput of each stage")
    save(figure, path)
