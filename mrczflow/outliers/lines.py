"""Rows and columns: the read-out line pattern every detector has, and line defects (SPEC section 3, step 5).

Every row and column carries a small offset (a CMOS read-out pattern, a
column amplifier), often different in each read-out half of the sensor (the
simulated K2's lines run over the right half only): :func:`line_offsets`
measures it per half line (the median of the trimmed means of its 32-px
pieces, so neither hot pixels nor a defective segment pull it) and
the count model takes it into each pixel's expected level, so it neither
widens the pixel limits nor is mistaken for outliers.

A *line defect* is a row or column, whole or a segment of 64 px or more, that
stands out of that pattern: a warm column 20% above its neighbours is
invisible pixel by pixel at low dose, but pooled along the column it is far
out (at 0.1 e/px/frame x 30 frames a whole 3,838-px K2 column is ~21 sigma
out). Two tests, each both

- significant, against the spread the test actually shows on this stack (the
  robust spread of all lines, or all windows of one length, but never less
  than counting noise): beyond the level that gives ``false_alarms`` false
  finds per stack over all lines and windows tested (Bonferroni); and
- large: an excess or deficit of at least ``min_excess`` of the local level;

are made: half lines on their offsets (a whole bad line is its two halves), and segments (windows of 64, 128,
256 ... px, half-overlapping, finest first) on what is left once the
offsets are in the model, each shrunk toward the offsets of its half by how
much of their spread is noise (:func:`shrink_offsets`: a segment over about
half its half line pulls the median of its pieces, and would hide in it).
At 0.1 e/px/frame x 30 frames a 20% excess over 64 px is only ~2.8 sigma of
counting noise, so short segments are found from about 0.5 e/px/frame on;
benchmarks/bench_outliers.py prints line recall by dose.

Measured on one stack, a read-out offset and a line defect of the same size
look alike. With a CMOS read-out reference (:func:`readout_lines`) the
pattern is known, not measured: it is in each pixel's expected sum, and the
offsets left are the defects' (and noise).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
from scipy import special

MIN_SEGMENT = 64
TRIM_SIGMA = 6.0


@dataclasses.dataclass(frozen=True)
class LineDefect:
    """One defective line or segment: ``axis`` "column" or "row", its ``index``, pixels ``start:stop`` along it."""

    axis: str
    index: int
    start: int
    stop: int
    excess: float  # relative to the local level: +0.2 = 20% warm
    z: float

    def rectangle(self) -> tuple[int, int, int, int]:
        """``x y w h`` (MotionCor2 -DefectFile)."""
        if self.axis == "column":
            return (self.index, self.start, 1, self.stop - self.start)
        return (self.start, self.index, self.stop - self.start, 1)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


OFFSET_BLOCK = 32


def _piecewise_offset(
    residual: np.ndarray, bound: np.ndarray, axis: int, exclude: np.ndarray | None
) -> np.ndarray:
    """Offset of each line along ``axis``: the median over 32-px pieces of their trimmed means.

    Trimmed (beyond ``bound``), so hot pixels do not pull a piece; the median
    over pieces, so a defective segment covering less than half the line does
    not shift the offset of the rest.
    """
    keep = np.abs(residual) <= bound
    if exclude is not None:
        keep &= ~exclude
    values = np.moveaxis(np.where(keep, residual, np.float32(0)), axis, 0)
    kept = np.moveaxis(keep, axis, 0)
    length = values.shape[0]
    pieces = []
    for start in range(0, length, OFFSET_BLOCK):
        stop = min(length, start + OFFSET_BLOCK)
        if stop - start < OFFSET_BLOCK // 2 and pieces:
            break
        count = kept[start:stop].sum(axis=0)
        mean = values[start:stop].sum(axis=0, dtype=np.float64) / np.maximum(count, 1)
        pieces.append(np.where(count > 0, mean, np.nan))
    with warnings.catch_warnings():  # a line left out entirely (a defect already found) has no offset
        warnings.simplefilter("ignore", RuntimeWarning)
        offsets = np.nanmedian(np.array(pieces), axis=0)
    return np.nan_to_num(offsets)


def halves(length: int) -> list[tuple[int, int]]:
    """The two read-out halves of a line of ``length`` px."""
    return [(0, length // 2), (length // 2, length)]


def line_offsets(
    total: np.ndarray, background: np.ndarray, exclude: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Additive offsets (counts) over the smooth ``background``: rows ``(ny, 2)`` by half, columns ``(2, nx)``.

    ``exclude`` (outliers and line defects already found) is left out, so a
    defective segment does not shift the offset of the rest of its half line.
    """
    b = np.asarray(background, np.float32)
    bound = np.sqrt(b)  # TRIM_SIGMA sqrt(b) + 1, in place
    bound *= np.float32(TRIM_SIGMA)
    bound += np.float32(1.0)
    # One frame-sized residual (in float32, as the counts cast first): each half's column offsets are
    # measured on it, then taken out of that half in place (as expand_offsets gives them: float32) for
    # the rows'. The halves do not overlap: one half's offsets never touch the other's residual.
    rest = np.subtract(total, b, dtype=np.float32)
    ny, nx = rest.shape
    columns = np.zeros((2, nx))
    for k, (start, stop) in enumerate(halves(ny)):
        part = None if exclude is None else exclude[start:stop]
        columns[k] = _piecewise_offset(rest[start:stop], bound[start:stop], 0, part)
        rest[start:stop] -= columns[k].astype(np.float32)
    rows = np.zeros((ny, 2))
    for k, (start, stop) in enumerate(halves(nx)):
        part = None if exclude is None else exclude[:, start:stop]
        rows[:, k] = _piecewise_offset(rest[:, start:stop], bound[:, start:stop], 1, part)
    return rows, columns


def expand_offsets(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """The per-pixel offset image of half-line offsets ``rows`` (ny, 2) and ``columns`` (2, nx)."""
    ny, nx = rows.shape[0], columns.shape[1]
    image = np.empty((ny, nx), np.float32)
    for k, (start, stop) in enumerate(halves(nx)):
        image[:, start:stop] = rows[:, k : k + 1]
    for k, (start, stop) in enumerate(halves(ny)):
        image[start:stop] += columns[k][None, :]
    return image


def readout_lines(pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A read-out reference as the half-line offsets it holds: rows ``(ny, 2)``, columns ``(2, nx)``.

    The rows' are the means of each row's left and right half; the columns',
    with those taken out, the means of each column's top and bottom half
    (:func:`expand_offsets` makes the image again). A pattern made of half-line
    offsets is kept exactly; anything else in it (a measured reference's
    per-pixel noise, a hot pixel of the dark) averages over hundreds of pixels
    instead of entering each pixel's expected count.
    """
    image = np.asarray(pattern)
    ny, nx = image.shape
    across, down = halves(nx), halves(ny)
    rows = np.stack([image[:, a:b].mean(axis=1, dtype=np.float64) for a, b in across], axis=1)
    # The column means of the pattern less the rows' image, without that image (no frame-sized copy).
    columns = np.stack([image[a:b].mean(axis=0, dtype=np.float64) for a, b in down])
    for k, (a, b) in enumerate(down):
        for j, (c, d) in enumerate(across):
            columns[k, c:d] -= rows[a:b, j].mean()
    return rows, columns


def line_spread(rows: np.ndarray, columns: np.ndarray, level: np.ndarray) -> float:
    """How far half lines' offsets spread, relative to their level: the largest over the four sets (rows of the
    left and of the right half, columns of the top and of the bottom half) of the robust std of offset / mean level.

    Without a read-out reference this is the read-out pattern's size (and the counting noise of a half line's
    mean): a line defect no larger, on those lines, cannot be told from an offset.
    """
    m = np.asarray(level)
    ny, nx = m.shape
    spreads = []
    for k, (start, stop) in enumerate(halves(nx)):
        spreads.append(rows[:, k] / np.maximum(m[:, start:stop].mean(axis=1, dtype=np.float64), 1e-9))
    for k, (start, stop) in enumerate(halves(ny)):
        spreads.append(columns[k] / np.maximum(m[start:stop].mean(axis=0, dtype=np.float64), 1e-9))
    return max((_mad_std(r) for r in spreads if r.size >= 8), default=0.0)


def shrink_offsets(
    rows: np.ndarray, columns: np.ndarray, level: np.ndarray, overdispersion: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Half-line offsets shrunk toward the median of their half by how much of their spread is noise.

    Each offset is a noisy estimate (the median of 32-px pieces of its half
    line: variance about ``pi/2`` x the counts' variance over the pixels);
    the lines of one half (rows of the left half, say) have true offsets of
    some spread ``tau`` (a read-out pattern; none at all on many detectors),
    measured robustly as the offsets' spread less that noise. The best guess
    of a line's true offset (empirical Bayes) is then ``c + (o - c) tau^2 /
    (tau^2 + s^2)``: where lines carry no pattern, an offset that a defect
    covering much of its half line pulled away is taken back to the others'
    level, so the defect stands out whole; where a read-out pattern is as
    large as the defect, little changes, and the two cannot be told apart in
    one stack. ``rows`` (ny, 2) and ``columns`` (2, nx) as from
    :func:`line_offsets`; ``level`` the expected sum without them.
    """
    lam = np.asarray(level, np.float32)  # no float64 copy of the frame: sums are taken in float64
    ny, nx = lam.shape

    def variance_sum(part: np.ndarray, axis: int) -> np.ndarray:  # sum of lam + v lam^2 along the half line
        return part.sum(axis=axis, dtype=np.float64) + overdispersion * np.square(part).sum(
            axis=axis, dtype=np.float64
        )

    shrunk_rows, shrunk_columns = np.array(rows, np.float64), np.array(columns, np.float64)
    for k, (start, stop) in enumerate(halves(nx)):  # rows: along x, one offset per half
        noise = np.pi / 2 * variance_sum(lam[:, start:stop], 1) / (stop - start) ** 2
        shrunk_rows[:, k] = _shrunk(shrunk_rows[:, k], noise)
    for k, (start, stop) in enumerate(halves(ny)):  # columns: along y
        noise = np.pi / 2 * variance_sum(lam[start:stop], 0) / (stop - start) ** 2
        shrunk_columns[k] = _shrunk(shrunk_columns[k], noise)
    return shrunk_rows, shrunk_columns


def _shrunk(offsets: np.ndarray, noise: np.ndarray) -> np.ndarray:
    if offsets.size < 8:
        return offsets
    centre = float(np.median(offsets))
    spread = _mad_std(offsets) ** 2
    tau2 = max(0.0, spread - float(np.median(noise)))
    return centre + (offsets - centre) * (tau2 / np.maximum(tau2 + noise, 1e-30))


def _mad_std(values: np.ndarray) -> float:
    """The standard deviation a normal sample has for ``values``' median absolute deviation (1.4826 MAD)."""
    return 1.4826 * float(np.median(np.abs(values - np.median(values))))


def _robust_scale(z: np.ndarray) -> float:
    """The spread of ``z`` over lines or windows, never below counting noise (1)."""
    if z.size < 8:
        return 1.0
    return max(1.0, _mad_std(z))


def _limit(tests: int, false_alarms: float) -> float:
    return float(-special.ndtri(false_alarms / (2 * max(tests, 1))))


def _windows(length: int) -> list[tuple[int, int]]:
    """Half-overlapping windows of 64, 128, ... px shorter than half a line of ``length`` px."""
    out = []
    size = MIN_SEGMENT
    while size < length // 2:
        starts = list(range(0, length - size + 1, size // 2))
        if starts[-1] != length - size:
            starts.append(length - size)
        out.append([(start, start + size) for start in starts])
        size *= 2
    return out


def _half_lines(offsets, level, variance, axis, z_limit, min_excess) -> list[LineDefect]:
    """Half lines whose offset stands out. ``offsets`` (lines, 2); ``level``/``variance`` (along, lines)."""
    length = level.shape[0]
    spans = halves(length)
    excess = np.empty(offsets.shape)
    z = np.empty(offsets.shape)
    for k, (start, stop) in enumerate(spans):
        n = stop - start
        excess[:, k] = offsets[:, k] * n / np.maximum(level[start:stop].sum(axis=0), 1e-9)
        z[:, k] = offsets[:, k] * n / np.sqrt(np.maximum(variance[start:stop].sum(axis=0), 1e-9))
    for k in range(len(spans)):  # each half against its own lines: read-out halves differ
        z[:, k] = (z[:, k] - np.median(z[:, k])) / _robust_scale(z[:, k])
    found = []
    for line, k in zip(*np.nonzero((np.abs(z) > z_limit) & (np.abs(excess) >= min_excess)), strict=True):
        start, stop = spans[k]
        found.append(LineDefect(axis, int(line), start, stop, float(excess[line, k]), float(z[line, k])))
    return found


def _block_sums(values: np.ndarray, pad: int) -> np.ndarray:
    """Sums (float64) of :data:`OFFSET_BLOCK`-px blocks down the columns of ``values`` (a view; any strides),
    the last block zero-padded by ``pad`` px.

    Only the last, partial block is padded (a copy of it, not of the frame): its sum is the same as that
    of the whole frame padded, term for term, since each block is summed in the same order either way.
    """
    n_along, n_lines = values.shape
    whole = n_along - (OFFSET_BLOCK - pad if pad else 0)
    blocks = np.empty((-(-n_along // OFFSET_BLOCK), n_lines))
    if values.strides[0] < values.strides[1]:  # a transposed view: each block runs along memory
        blocks[: whole // OFFSET_BLOCK] = (
            values.T[:, :whole].reshape(n_lines, -1, OFFSET_BLOCK).sum(axis=2, dtype=np.float64).T
        )
        if pad:
            last = np.zeros((n_lines, OFFSET_BLOCK), values.dtype)
            last[:, : OFFSET_BLOCK - pad] = values.T[:, whole:]
            blocks[-1] = last.sum(axis=1, dtype=np.float64)
    else:
        blocks[: whole // OFFSET_BLOCK] = (
            values[:whole].reshape(-1, OFFSET_BLOCK, n_lines).sum(axis=1, dtype=np.float64)
        )
        if pad:
            last = np.zeros((OFFSET_BLOCK, n_lines), values.dtype)
            last[: OFFSET_BLOCK - pad] = values[whole:]
            blocks[-1] = last.sum(axis=0, dtype=np.float64)
    return blocks


def _segments(residual, variance, level, axis, z_limit, min_excess) -> list[LineDefect]:
    """Segments along ``axis`` ("column": down each column; "row": along each row).

    Windows start on multiples of half their length (32 px or more), so each
    window's sums are sums of 32-px block sums: one pass over the image.
    """
    n_along, n_lines = residual.shape if axis == "column" else residual.shape[::-1]
    pad = (-n_along) % OFFSET_BLOCK
    cumulative = []
    for values in (residual, variance, level):
        blocks = _block_sums(values if axis == "column" else values.T, pad)
        running = np.zeros((blocks.shape[0] + 1, n_lines))
        np.cumsum(blocks, axis=0, out=running[1:])
        cumulative.append(running)
    found: list[LineDefect] = []
    taken = np.zeros((n_along + pad, n_lines), bool)
    for windows in _windows(n_along + pad):
        starts = np.array([w[0] for w in windows])
        stops = np.array([w[1] for w in windows])
        e, w, m = (
            c[stops // OFFSET_BLOCK] - c[starts // OFFSET_BLOCK] for c in cumulative
        )  # (windows, lines)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(w > 0, e / np.sqrt(w), 0.0)
            excess = np.where(m > 0, e / m, 0.0)
        z = z / _robust_scale(z)
        for k, line in zip(*np.nonzero((np.abs(z) > z_limit) & (np.abs(excess) >= min_excess)), strict=True):
            start, stop = int(starts[k]), int(min(stops[k], n_along))
            if taken[start:stop, line].mean() > 0.5:  # already found at a finer scale
                continue
            taken[start:stop, line] = True
            found.append(LineDefect(axis, int(line), start, stop, float(excess[k, line]), float(z[k, line])))
    return found


def _refine(line: LineDefect, residual: np.ndarray, level: np.ndarray) -> LineDefect | None:
    """Trim or extend a found window to the run that carries the defect (most-excess run, Kadane).

    ``residual`` and ``level`` are the values along the whole line. Each pixel
    scores its residual less half the window's excess of its level, so pixels
    outside the defect score below zero and are left out.
    """
    size = line.stop - line.start
    lo, hi = max(0, line.start - size // 2), min(residual.size, line.stop + size // 2)
    if 2 * size >= residual.size:  # a half line: the defect may run the whole line
        lo, hi = 0, residual.size
    sign = 1.0 if line.excess > 0 else -1.0
    score = sign * residual[lo:hi] - 0.5 * abs(line.excess) * level[lo:hi]
    best, best_start, best_stop, running, start = 0.0, 0, 0, 0.0, 0
    for i, value in enumerate(score.tolist()):
        if running <= 0:
            running, start = value, i
        else:
            running += value
        if running > best:
            best, best_start, best_stop = running, start, i + 1
    if best_stop - best_start < MIN_SEGMENT // 2:
        return None
    start, stop = lo + best_start, lo + best_stop
    excess = float(residual[start:stop].sum() / max(level[start:stop].sum(), 1e-9))
    return dataclasses.replace(line, start=start, stop=stop, excess=excess)


def _variance(level: np.ndarray, v: np.float32) -> np.ndarray:
    """``level + v * level * level`` (the negative binomial's variance), in the same order of operations,
    with one frame-sized temporary instead of three."""
    variance = np.multiply(v, level)
    variance *= level
    variance += level
    return variance


def find_lines(
    total: np.ndarray,
    level: np.ndarray,
    rows: np.ndarray,
    columns: np.ndarray,
    overdispersion: float,
    flagged: np.ndarray,
    *,
    false_alarms: float = 1e-3,
    min_excess: float = 0.1,
    segments: bool = True,
) -> list[LineDefect]:
    """Whole lines and segments that stand out (module doc); ``segments=False``: half lines only.

    ``level`` is each pixel's expected sum with the half-line offsets ``rows``
    (ny, 2) and ``columns`` (2, nx) in it (:func:`line_offsets`); ``flagged``
    pixels (hot, dead) are left out of the segment sums.
    """
    x = np.asarray(total, np.float32)
    m = np.asarray(level, np.float32)
    ny, nx = x.shape
    free = ~flagged
    v = np.float32(overdispersion)
    base = expand_offsets(rows, columns)
    np.subtract(m, base, out=base)  # the level without the offsets (float32, as is m), in their image
    tests = 2 * (nx + ny) + sum(len(w) for w in _windows(ny)) * nx + sum(len(w) for w in _windows(nx)) * ny
    z_limit = _limit(tests, false_alarms)
    # Half lines: the offsets' noise from the level without them (a deep offset would shrink its own variance).
    base_variance = _variance(base, v)
    found = _half_lines(columns.T, base, base_variance, "column", z_limit, min_excess)
    found += _half_lines(rows, base.T, base_variance.T, "row", z_limit, min_excess)
    del base_variance
    if segments:
        # Segments against each half line's offset shrunk toward what the lines of its half show
        # (shrink_offsets): a defect over much of a half line pulls the median of its pieces toward
        # itself, and would otherwise hide in its own line's offset.
        shrunk = expand_offsets(*shrink_offsets(rows, columns, base, overdispersion))
        shrunk += base
        # In place, one frame-sized image at a time (the same numbers as np.where with 0 where flagged);
        # the shrunk level itself becomes the expected sums, once the other two are made from it.
        residual = x - shrunk
        residual[flagged] = 0
        variance = _variance(shrunk, v)
        variance[flagged] = 0
        expected = shrunk
        expected[flagged] = 0
        found += _segments(residual, variance, expected, "column", z_limit, min_excess)
        found += _segments(residual, variance, expected, "row", z_limit, min_excess)
    refined = []
    for line in found:
        # Against the level without the line offsets, a whole warm line's own pixels are what stands out.
        pick = (slice(None), line.index) if line.axis == "column" else (line.index, slice(None))
        keep = free[pick]
        res = np.where(keep, x[pick] - base[pick], 0.0).astype(np.float64)
        lev = np.where(keep, base[pick], 0.0).astype(np.float64)
        better = _refine(line, res, lev)
        if better is not None and abs(better.excess) >= min_excess:
            refined.append(better)
    return merge_lines(refined)


def merge_lines(lines: list[LineDefect]) -> list[LineDefect]:
    """One entry per run: overlapping or touching finds on the same line and of the same sign are joined."""
    merged: list[LineDefect] = []
    for line in sorted(lines, key=lambda d: (d.axis, d.index, d.excess > 0, d.start)):
        last = merged[-1] if merged else None
        if (
            last is not None
            and (last.axis, last.index, last.excess > 0) == (line.axis, line.index, line.excess > 0)
            and line.start <= last.stop
        ):
            total = (last.stop - last.start) + (line.stop - line.start)
            excess = (last.excess * (last.stop - last.start) + line.excess * (line.stop - line.start)) / total
            z = max(last.z, line.z, key=abs)
            merged[-1] = dataclasses.replace(last, stop=max(last.stop, line.stop), excess=excess, z=z)
        else:
            merged.append(line)
    return merged


def line_mask(shape: tuple[int, int], lines: list[LineDefect]) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of warm and of cold line defects."""
    warm = np.zeros(shape, bool)
    cold = np.zeros(shape, bool)
    for line in lines:
        target = warm if line.excess > 0 else cold
        if line.axis == "column":
            target[line.start : line.stop, line.index] = True
        else:
            target[line.index, line.start : line.stop] = True
    return warm, cold
