"""The outlier filter scored against the simulator's truth and an oracle (tests and benchmarks only).

Which pixels count (per stack):

- *clean*: no hot excess at all (no hot pixel within the point spread), not
  dead, not on a line defect, and not on a read-out pattern row whose offset
  is 10% of the dose or more (that pattern is the gain's and KOMA's to
  correct; flagging it or not is neither right nor wrong);
- *hot*: true outliers of :meth:`Truth.outlier_masks` that are not dead (6
  sigma of the clean sum; 2.5-6 sigma is ambiguous and ignored);
- *dead*: dead pixels (dead precision counts calls on clean or dead pixels:
  on a cold line or read-out row a deficit is real, not a false dead call);
- *line*: line-defect pixels of at least 20% excess or deficit.

The oracle knows each pixel's clean expectation and flags, on the same data,
where the sum passes the exact Poisson ``1 - rate`` quantile of it: no
detector with that false-alarm rate can expect a higher hot recall.

Without a gain reference no method knows a pixel's own sensitivity; the
*oracle without a gain* knows everything else (the level, the etching, the
line defects) and the sensitivities' spread, and flags where the sum's
p-value under that Poisson-lognormal mixture is below ``rate``: the best a
filter without a gain reference can do. The *line oracle* knows where each
line defect lies: it pools the counts over the whole defect and tests that
one sum against the Poisson expectation without the defect at ``rate``: no
line finder, which must also find where a line is, can expect to find more.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, stats

from ..koma.noise import correlated_noise
from ..outliers import DEAD, HOT, LINE, filtered_frames, stack_sum
from ..outliers.detect import Detection
from .detector import spread_hot_pixels
from .scores import baseline_mask
from .truth import Truth


def _masks(truth: Truth, index: int) -> dict[str, np.ndarray]:
    s = truth.stack(index)
    excess = spread_hot_pixels(truth.shape, s.hot_indices, s.hot_rates)
    dead = truth.dead_mask(index)
    true_outliers, ambiguous = truth.outlier_masks(index)
    readout = np.abs(truth.meta["cmos_counts"] * truth.lines) >= 0.1 * s.detected_per_frame
    lines = truth.line_defects(0.2)
    off_line = np.abs(truth.line_factor - 1) < 1e-6
    return {
        "clean": (excess == 0) & ~dead & off_line & ~readout,
        "hot": true_outliers & ~dead & ~ambiguous & off_line,
        "dead": dead,
        "line": lines,
        "excess": excess,
    }


def oracle_recall(truth: Truth, index: int, total: np.ndarray, hot: np.ndarray, rate: float) -> float:
    """Hot recall of the oracle (module doc) on the stack sum ``total``, at ``rate`` false alarms per clean pixel."""
    if not hot.any():
        return 1.0
    s = truth.stack(index)
    clean = (
        s.n_frames * s.detected_per_frame * truth.gain(s.dose_rate, s.session_fraction) * truth.line_factor
    )[hot]
    return float((total[hot] > stats.poisson.isf(rate, clean)).mean())


def oracle_recall_without_gain(
    truth: Truth, index: int, total: np.ndarray, hot: np.ndarray, rate: float, nodes: int = 24
) -> float:
    """Hot recall of the oracle without a gain reference (module doc), at ``rate`` false alarms per clean pixel."""
    if not hot.any():
        return 1.0
    s = truth.stack(index)
    response = truth.gain(s.dose_rate, s.session_fraction) * truth.line_factor
    sensitivity = truth.pixel_gain.astype(np.float64)
    level = (s.n_frames * s.detected_per_frame * response / sensitivity)[hot]  # all but the pixel's own gain
    p_values = poisson_lognormal_sf(total[hot], level, float(np.log(sensitivity).std()), nodes)
    return float((p_values <= rate).mean())


def poisson_lognormal_sf(counts: np.ndarray, level: np.ndarray, sigma: float, nodes: int = 24) -> np.ndarray:
    """``P(X >= counts)`` for ``X ~ Poisson(level g)``, ``g`` lognormal of log-std ``sigma`` and mean 1 (Gauss-Hermite)."""
    points, weights = np.polynomial.hermite_e.hermegauss(nodes)
    gains = np.exp(sigma * points - sigma**2 / 2)
    counts, level = np.asarray(counts, np.float64), np.asarray(level, np.float64)
    tails = stats.poisson.sf(counts[:, None] - 1, level[:, None] * gains[None, :])
    return tails @ (weights / weights.sum())


def oracle_line_recall(
    truth: Truth, index: int, total: np.ndarray, rate: float, min_excess: float = 0.2
) -> float:
    """Line recall of the oracle that knows where each line defect lies (module doc)."""
    lines = truth.line_defects(min_excess)
    if not lines.any():
        return float("nan")
    s = truth.stack(index)
    clean = s.n_frames * (
        s.detected_per_frame * truth.gain(s.dose_rate, s.session_fraction)
        + truth.meta["cmos_counts"] * truth.lines
    )  # without the defect, with the read-out pattern (which the oracle knows)
    labels, _ = ndimage.label(np.abs(truth.line_factor - 1) > 1e-6)
    found = np.zeros(truth.shape, bool)
    for label, region in enumerate(ndimage.find_objects(labels), start=1):
        part = labels[region] == label
        observed = float(total[region][part].sum())
        expected = float(clean[region][part].sum())
        warm = float(truth.line_factor[region][part].mean()) > 1
        p_value = stats.poisson.sf(observed - 1, expected) if warm else stats.poisson.cdf(observed, expected)
        if p_value <= rate:
            found[region] |= part
    return float(found[lines].mean())


def readout_reference(truth: Truth, index: int) -> np.ndarray:
    """The read-out pattern's counts in stack ``index``'s sum: a CMOS reference (counts per frame) times its frames."""
    return (truth.stack(index).n_frames * truth.meta["cmos_counts"] * truth.lines).astype(np.float32)


def line_recall(truth: Truth, detection: Detection, min_excess: float = 0.2) -> float:
    """The share of line-defect pixels (``min_excess`` or more) the detection flags; NaN without line defects."""
    lines = truth.line_defects(min_excess)
    return float((detection.flags > 0)[lines].mean()) if lines.any() else float("nan")


def true_flags(truth: Truth, index: int) -> np.ndarray:
    """The flags a perfect filter would set: true hot outliers, dead pixels and line defects."""
    masks = _masks(truth, index)
    flags = np.zeros(truth.shape, np.uint8)
    flags[masks["hot"]] = HOT
    flags[masks["dead"]] = DEAD
    flags[masks["line"]] |= LINE | HOT
    return flags


def score(stack: np.ndarray, truth: Truth, index: int, detection: Detection) -> dict[str, float]:
    """Every figure the outlier issue asks for, for one stack and one detection."""
    masks = _masks(truth, index)
    clean, hot, dead, lines = masks["clean"], masks["hot"], masks["dead"], masks["line"]
    flags = detection.flags
    pixel_hot = ((flags & HOT) > 0) & ((flags & LINE) == 0)
    pixel_dead = ((flags & DEAD) > 0) & ((flags & LINE) == 0)
    any_flag = flags > 0
    total = stack_sum(stack)
    six_sigma = baseline_mask(total)
    rate = detection.false_alarm_rate
    normalised = stack.astype(np.float32) * truth.vendor_gain
    before = correlated_noise(normalised)
    ours = correlated_noise(np.array(list(filtered_frames(normalised, flags))))
    best = correlated_noise(np.array(list(filtered_frames(normalised, true_flags(truth, index)))))
    called_dead = (pixel_dead & (clean | dead)).sum()  # on a line or read-out row a deficit is real
    return {
        "clean_pixels": int(clean.sum()),
        "false_hot": float(pixel_hot[clean].mean()),
        "false_dead": float(pixel_dead[clean].mean()),
        "false_line": float((((flags & LINE) > 0) & clean).mean() / max(clean.mean(), 1e-12)),
        "hot_recall": float(pixel_hot[hot].mean()) if hot.any() else 1.0,
        "hot_recall_any_flag": float(any_flag[hot].mean()) if hot.any() else 1.0,
        "oracle_hot_recall": oracle_recall(truth, index, total, hot, rate),
        "oracle_hot_recall_without_gain": oracle_recall_without_gain(truth, index, total, hot, rate),
        "oracle_line_recall": oracle_line_recall(truth, index, total, rate),
        "dead_precision": float((pixel_dead & dead).sum() / called_dead) if called_dead else 1.0,
        "dead_recall": float(pixel_dead[dead].mean()) if dead.any() else 1.0,
        "dead_callable": detection.dead_detectable,
        "line_recall": line_recall(truth, detection),
        "noise_removed": (before - ours) / (before - best) if before > best else 1.0,
        "six_sigma_false": float(six_sigma[clean].mean()),
        "six_sigma_hot_recall": float(six_sigma[hot].mean()) if hot.any() else 1.0,
        "hot_true": int(hot.sum()),
        "dead_true": int(dead.sum()),
        "line_true": int(lines.sum()),
    }
