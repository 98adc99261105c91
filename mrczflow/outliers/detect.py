"""Per-stack stochastic outlier-pixel filter (paper section 4; SPEC section 3).

Hot pixels come and go from stack to stack, so every stack gets its own mask,
found from its unaligned sum (outliers add up in it; the drifting specimen
blurs out):

1. Sum the stack over frames.
2. Flatten it by a coarse local background (block means, upsampled), so a
   carbon edge or an ice gradient does not turn the histogram bimodal.
   (Not in the paper: there, carbon in view broke the single-normal model.)
3. Histogram with count-centred bins; its cumulative sum is CDF_hist.
4. Fit a normal CDF to CDF_hist (Eq. 1, least squares) -- in the Anscombe
   variable ``2 sqrt(x + 3/8)``, where Poisson counts are close to normal even
   at 0.1 e/px/frame (the paper fits the counts directly, which a skewed
   low-dose histogram breaks). For high doses the two agree.
5. Residual in sigma units (Eqs. 2-4); straight lines through the tails where
   ``|r| > tail_limit`` give the thresholds t_dark and t_hot (Eq. 5), and
   the logistic weight of order k with relaxation rho (Eq. 6) puts the
   paper's limits at ``rho * t``. These are recorded (``t_hot``,
   ``paper_hot_limit_sigma``...), not used to decide: a normal model, even
   in the Anscombe variable, misses the Poisson tails at low dose (every zero
   sum was called dead at 0.25 e/px/frame).
6. The decision is the documented threshold SPEC section 3 allows: exact
   whole-count limits at ``false_alarm_rate`` per side under a Poisson model
   widened by the pixels' measured response spread (:mod:`.counts`), so the
   rate holds at every dose; no dead call where a zero sum is no evidence.
   Then line defects, pooled along rows and columns (:mod:`.lines`).
7. Fill, every frame: a *singleton* (no other outlier within 2 px) gets the
   K2 point-spread expectation from its 24 neighbours; a *clustered* outlier
   the mean of its non-outlier 5x5 neighbours.

Steps 1-6 are here; step 7 is :mod:`.fill`.

Memory: the stack sum and a few frame-sized arrays.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import ndimage, special

from .counts import overdispersion as measure_overdispersion
from .counts import thresholds
from .lines import (
    LineDefect,
    expand_offsets,
    find_lines,
    line_mask,
    line_offsets,
    line_spread,
    merge_lines,
    readout_lines,
)
from .settings import OutlierSettings

#: No expected level falls below this share of the sum's mean (a dark region must not blow up when divided by).
LEVEL_FLOOR = 0.05
# Neighbours within 2 px: a flagged pixel with a flagged neighbour is "clustered" and filled differently.
OFFSETS = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)]
HOT, DEAD, CLUSTERED, LINE = 1, 2, 4, 8


@dataclasses.dataclass
class Detection:
    """Result of :func:`detect`: flag image and the fitted model, in sigma units of the Anscombe variable."""

    flags: np.ndarray
    mu: float
    sigma: float
    t_dark: float
    t_hot: float
    hot_limit: float  # the paper's (recorded, not used to decide)
    dark_limit: float
    false_alarm_rate: float = 1e-5
    overdispersion: float = 0.0
    expected_false_hot: float = 0.0
    expected_false_dead: float = 0.0
    dead_detectable: float = 1.0
    lines: list[LineDefect] = dataclasses.field(default_factory=list)
    line_spread: float = 0.0  # half lines' offsets, robust std relative to the level (lines.line_spread)
    line_note: str | None = None  # why line defects as large as that may be missed, when they may be

    @property
    def mask(self) -> np.ndarray:
        return (self.flags & (HOT | DEAD)) > 0

    def counts(self) -> dict[str, int]:
        hot, dead = (self.flags & HOT) > 0, (self.flags & DEAD) > 0
        clustered = (self.flags & CLUSTERED) > 0
        return {
            "hot": int(hot.sum()),
            "dead": int(dead.sum()),
            "clustered": int(clustered.sum()),
            "singleton": int((hot | dead).sum() - clustered.sum()),
            "line_pixels": int(((self.flags & LINE) > 0).sum()),
        }

    def summary(self) -> dict:
        return {
            "mu": self.mu,
            "sigma": self.sigma,
            "t_dark": self.t_dark,
            "t_hot": self.t_hot,
            "paper_hot_limit_sigma": self.hot_limit,
            "paper_dark_limit_sigma": self.dark_limit,
            "false_alarm_rate": self.false_alarm_rate,
            "overdispersion": self.overdispersion,
            "expected_false_hot": self.expected_false_hot,
            "expected_false_dead": self.expected_false_dead,
            "dead_detectable_fraction": self.dead_detectable,
            "line_spread": self.line_spread,
            "line_note": self.line_note,
            "dead_note": None
            if self.dead_detectable > 0
            else "no dead call: at this dose a zero sum is no evidence of a dead pixel",
            "lines": [line.as_dict() for line in self.lines],
            **self.counts(),
        }


def stack_sum(frames) -> np.ndarray:
    """Unaligned sum over frames (uint32), one frame at a time."""
    total = None
    for frame in frames:
        total = frame.astype(np.uint32) if total is None else total + frame
    if total is None:
        raise ValueError("a stack needs at least one frame")
    return total


def _background(total: np.ndarray, block: int) -> np.ndarray:
    """Smooth local level of the sum: block means, median-filtered across blocks, upsampled bilinearly.

    Means, not medians: a sparse (low-dose or EER) sum has block medians of 0.
    The 3x3 median across blocks keeps a block holding a hot cluster from
    lifting its level; the floor (:data:`LEVEL_FLOOR` of the global mean) keeps a dark region
    (carbon, a shadow) from blowing up when divided by.
    """
    ny, nx = total.shape
    overall = float(total.mean())
    by, bx = ny // block, nx // block
    if by < 3 or bx < 3:
        return np.full(total.shape, max(overall, 1e-6), np.float32)
    blocks = (
        total[: by * block, : bx * block].reshape(by, block, bx, block).mean(axis=(1, 3), dtype=np.float64)
    )
    blocks = ndimage.median_filter(blocks, 3, mode="nearest")
    level = _bilinear(blocks, (ny, nx))
    return np.maximum(level, np.float32(LEVEL_FLOOR * overall))


def _linear_axis(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``n_out`` pixels over ``n_in`` blocks (centres aligned), its lower block and weight of the upper."""
    place = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    lower = np.minimum(np.floor(place).astype(np.intp), n_in - 2)
    return lower, place - lower


def _bilinear(blocks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``blocks`` (at least 2 x 2) upsampled bilinearly to ``shape`` (float32), edges held.

    What ``ndimage.zoom(order=1, mode="nearest", grid_mode=True)`` gives, to
    float32 rounding, in a quarter of its time on a 4k frame: one pass per
    axis, the second in float32.
    """
    lower_y, weight_y = _linear_axis(blocks.shape[0], shape[0])
    lower_x, weight_x = _linear_axis(blocks.shape[1], shape[1])
    rows = (blocks[lower_y] * (1 - weight_y)[:, None] + blocks[lower_y + 1] * weight_y[:, None]).astype(
        np.float32
    )
    weight = weight_x.astype(np.float32)
    # np.take: the same gather as rows[:, lower_x], by a faster path; products in place.
    level = np.take(rows, lower_x, axis=1)
    level *= 1 - weight
    upper = np.take(rows, lower_x + 1, axis=1)
    upper *= weight
    level += upper
    return level


def anscombe(x: np.ndarray | float) -> np.ndarray | float:
    return 2.0 * np.sqrt(np.asarray(x, dtype=np.float64) + 0.375)


def _fit_normal_cdf(edges_a: np.ndarray, cdf: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    median = edges_a[np.searchsorted(cdf, 0.5)]
    spread = max((edges_a[np.searchsorted(cdf, 0.75)] - edges_a[np.searchsorted(cdf, 0.25)]) / 1.349, 0.1)

    def residual(params):
        mu, log_sigma = params
        return weights * (cdf - special.ndtr((edges_a - mu) / np.exp(log_sigma)))

    # Imported here: rule koma imports this module (for the fill) and never fits; scipy.optimize takes 0.26 s.
    from scipy import optimize

    fit = optimize.least_squares(residual, x0=[median, np.log(spread)], method="lm")
    return float(fit.x[0]), float(np.exp(fit.x[1]))


def _tail_intercept(z: np.ndarray, r: np.ndarray, limit: float, side: int) -> float:
    """Zero crossing of a straight line through the fat part of one tail (paper Eq. 5)."""
    select = (np.sign(z) == side) & (side * -r > limit) & np.isfinite(r)
    if select.sum() < 2:
        return np.inf * side
    slope, intercept = np.polyfit(z[select], r[select], 1)
    if slope == 0:
        return np.inf * side
    crossing = -intercept / slope
    return float(crossing) if np.sign(crossing) == side else np.inf * side


def detect(
    total: np.ndarray,
    settings: OutlierSettings | None = None,
    gain: np.ndarray | None = None,
    readout: np.ndarray | None = None,
) -> Detection:
    """Find the outlier pixels of one stack from its sum (see module docstring).

    ``gain``, the vendor's multiplicative gain reference in the movies'
    orientation, is optional: with it each pixel's expected sum follows its
    own response (its fine structure; the smooth part is in the background
    already), so the limits need not widen for the pixel-to-pixel spread and
    hot recall comes closer to that of a detector that knows every pixel.

    ``readout``, also optional: the read-out pattern's counts in this sum (the
    frames times a CMOS reference of counts per frame, paper Eq. 9's
    ``I_CMOS``), as its half lines hold it (:func:`.lines.readout_lines`). It
    goes into every pixel's expected sum. Without it the half-line offsets are
    measured on the stack itself, where a line defect and a read-out offset of
    the same size look alike: at 0.1 e/px/frame the simulated K2's read-out
    rows are as large as the defects the filter must find on them.
    """
    settings = settings or OutlierSettings()
    total = np.asarray(total)
    if gain is not None and np.shape(gain) != total.shape:
        raise ValueError(f"gain reference is {np.shape(gain)}, the stack's frames are {total.shape}")
    if readout is not None and np.shape(readout) != total.shape:
        raise ValueError(f"read-out reference is {np.shape(readout)}, the stack's frames are {total.shape}")
    if not total.any():  # no counts at all: nothing can stand out
        return Detection(
            np.zeros(total.shape, np.uint8), 0.0, 1.0, -np.inf, np.inf, np.inf, -np.inf, dead_detectable=0.0
        )
    if readout is None:
        level = _background(total, settings.background_block)
    else:
        pattern = expand_offsets(*readout_lines(readout))
        # The smooth level of what the pattern leaves, then the pattern in it: each pixel's expected sum
        # (with a gain, the pixel's response then scales the pattern too: a few percent of an offset).
        level = _background(np.subtract(total, pattern, dtype=np.float32), settings.background_block)
        level += pattern
        del pattern
        np.maximum(level, np.float32(LEVEL_FLOOR * float(total.mean())), out=level)
    # In float32, in place (the level is floored above 0): a third of the time of float64 copies; a
    # handful of a K2 sum's 14 million pixels fall in the next bin.
    flat = np.multiply(total, np.float32(level.mean()), dtype=np.float32)
    flat /= level
    values = np.rint(flat, out=flat).astype(np.int32)
    del flat  # frame-sized images are let go as soon as they are done with: K2 and K3 sums are large
    hist = np.bincount(values.ravel(), minlength=int(values.max()) + 2)
    del values
    cdf_all = np.cumsum(hist) / hist.sum()
    edges_a = anscombe(np.arange(hist.size) + 0.5)
    used = hist > 0
    mu, sigma = _fit_normal_cdf(edges_a[used], cdf_all[used], np.ones(used.sum()))
    inside = (cdf_all > 0) & (cdf_all < 1) & used
    z_model = (edges_a[inside] - mu) / sigma
    z_hist = special.ndtri(cdf_all[inside])
    residual = z_hist - z_model
    t_hot = _tail_intercept(z_model, residual, settings.tail_limit, +1)
    t_dark = _tail_intercept(z_model, residual, settings.tail_limit, -1)
    hot_limit = settings.relaxation * t_hot
    dark_limit = settings.relaxation * t_dark
    response = None
    if gain is not None:
        inverse = np.divide(1.0, gain, out=np.zeros(total.shape, np.float64), where=np.asarray(gain) > 0)
        response = inverse / _background(inverse, settings.background_block)
        del inverse
    # Pixel-to-pixel spread measured away from obvious outliers (6 sigma) and their point spread; the
    # pixel test; half lines; if any, the offsets measured again without them (a defect must not shift
    # the offset of the rest of its line) and the pixel test again; then segments.
    rows, columns = line_offsets(total, level)
    expected = _expected(level, rows, columns, response)
    obvious = _beyond(total, expected, 6)
    v = measure_overdispersion(total, expected, exclude=_neighbourhoods(obvious))
    del obvious
    flags, false_alarms = _pixel_test(total, expected, v, settings.false_alarm_rate)
    line_options = {"false_alarms": settings.line_false_alarms, "min_excess": settings.line_min_excess}
    found = find_lines(total, expected, rows, columns, v, flags > 0, segments=False, **line_options)
    if found:
        warm, cold = line_mask(total.shape, found)
        rows, columns = line_offsets(total, level, warm | cold)
        expected = _expected(level, rows, columns, response)
        flags, false_alarms = _pixel_test(total, expected, v, settings.false_alarm_rate)
    found += find_lines(total, expected, rows, columns, v, flags > 0, **line_options)
    lines = merge_lines(found)
    spread = line_spread(rows, columns, level)
    line_note = None
    if readout is None and spread >= settings.line_min_excess:
        line_note = (
            f"half lines' offsets spread by {spread:.0%} of the level (a read-out pattern): a line defect no "
            "larger, on them, is not told from an offset without a CMOS read-out reference (gamma.cmos_reference)"
        )
    warm, cold = line_mask(total.shape, lines)
    flags[warm] |= HOT | LINE
    flags[cold & ~warm] |= DEAD | LINE
    _mark_clusters(flags)
    return Detection(
        flags,
        mu,
        sigma,
        float(t_dark),
        float(t_hot),
        float(hot_limit),
        float(dark_limit),
        false_alarm_rate=settings.false_alarm_rate,
        overdispersion=v,
        **false_alarms,
        lines=lines,
        line_spread=spread,
        line_note=line_note,
    )


def _expected(level, rows, columns, response) -> np.ndarray:
    """Each pixel's expected clean sum: background, line offsets, and its own response when known."""
    expected = expand_offsets(rows, columns)  # a new image: the rest is done in it
    expected += level
    np.maximum(expected, np.float32(LEVEL_FLOOR * float(level.mean())), out=expected)
    if response is not None:
        expected *= response.astype(np.float32)
    return expected


def _beyond(total: np.ndarray, expected: np.ndarray, sigmas: float) -> np.ndarray:
    """Where ``|total - expected| > sigmas sqrt(expected) + 1``: the same numbers as that expression
    (a float64 difference, a float32 bound) with two frame-sized temporaries instead of five."""
    difference = np.subtract(total, expected, dtype=np.result_type(total, expected))
    np.abs(difference, out=difference)
    bound = np.sqrt(expected)
    bound *= np.float32(sigmas)
    bound += np.float32(1)
    return difference > bound


def _pixel_test(total, expected, v, rate) -> tuple[np.ndarray, dict[str, float]]:
    """The pixels' flags and what their limits cost in false alarms (the per-pixel limits themselves, two
    frame-sized images, are not kept: the rest of the detection does not need them)."""
    limits = thresholds(expected, rate, v)
    flags = np.zeros(total.shape, np.uint8)
    flags[total > limits.hot_above] = HOT
    flags[total <= limits.dead_at_most] = DEAD
    return flags, {
        "expected_false_hot": limits.expected_false_hot,
        "expected_false_dead": limits.expected_false_dead,
        "dead_detectable": limits.dead_detectable,
    }


def _neighbourhoods(flagged: np.ndarray) -> np.ndarray:
    """The 5 x 5 neighbourhoods of the flagged pixels (few: faster than a dilation of the frame)."""
    out = flagged.copy()
    ys, xs = np.nonzero(flagged)
    if ys.size:
        neighbours, inside = neighbour_indices(ys, xs, flagged.shape)
        out.reshape(-1)[neighbours[inside]] = True
    return out


def neighbour_indices(
    ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Flat indices of the 24 neighbours of each outlier, and whether each lies inside the frame."""
    dy = np.array([o[0] for o in OFFSETS])[:, None]
    dx = np.array([o[1] for o in OFFSETS])[:, None]
    ny_, nx_ = ys[None, :] + dy, xs[None, :] + dx
    inside = (ny_ >= 0) & (ny_ < shape[0]) & (nx_ >= 0) & (nx_ < shape[1])
    flat = np.clip(ny_, 0, shape[0] - 1) * shape[1] + np.clip(nx_, 0, shape[1] - 1)
    return flat, inside


def _mark_clusters(flags: np.ndarray) -> None:
    ys, xs = np.nonzero(flags)
    if ys.size == 0:
        return
    neighbours, inside = neighbour_indices(ys, xs, flags.shape)
    touching = ((flags.reshape(-1)[neighbours] > 0) & inside).any(axis=0)
    flags[ys[touching], xs[touching]] |= CLUSTERED
