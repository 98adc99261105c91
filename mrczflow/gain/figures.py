"""The gamma fit's figure (paper Fig. 9) for the session report."""

from __future__ import annotations

import os

import numpy as np

from ..figures import plt, save
from .fit import GammaFit


def plot_gamma_fit(fit: GammaFit, path: str | os.PathLike) -> None:
    """gamma versus dose rate, the references and the Eq. 11 fit (the paper's Fig. 9)."""
    figure, axes = plt.subplots(figsize=(5.5, 4), dpi=120)
    axes.plot(fit.dose_rates, fit.gammas, "x", color="black", label="references (Eq. 10)")
    low, high = fit.valid_range
    grid = np.linspace(low, high, 200)
    label = (
        "gamma = 1 (fallback)"
        if fit.fallback
        else ("fit: {a1:.3f} d^{b1:.2f} {a2:+.4f} d {a3:+.3f}".format(**fit.law.as_dict()))
    )
    axes.plot(grid, [fit.gamma(d)[0] for d in grid], color="tab:green", label=label)
    axes.axhline(1.0, color="grey", lw=0.6, ls=":")
    axes.set_xlabel("dose rate (e/px/s)")
    axes.set_ylabel("gain exponent gamma")
    axes.set_title("Gamma-corrected gain (paper Fig. 9)")
    axes.legend(fontsize=8)
    save(figure, path)
