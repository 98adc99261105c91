"""The KOMA correction of one stack from its window sum (paper section 5.2, Eq. 9).

The term is an estimate with shot noise of its own (``1 / (2a)`` of a
stack's), and that noise is the same in every frame of the stack it
corrects, so subtracting it raw *adds* correlated noise, about
``1 / (2a F)`` for ``F`` frames: the paper's reciprocal curves (Eq. 13).
:func:`wiener` keeps, per spatial frequency, only the share of the
pattern's power that stands above that known noise level.

Shot noise is not all that differs between the stacks of a window: each
holds its own specimen (ice thickness, particles), whose low frequencies a
mean of ``2a`` stacks still carries, and a detector may drift over the
window. Both are measured on the window itself (:class:`Spread`):

- its stacks are split into two interleaved halves, and whatever differs
  between the halves is noise to the mean, so the specimen's low frequencies
  are not stamped on the stack as if they were the detector's (on a drifting
  detector this kept KOMA from being worse than the gain alone mid-session,
  where the gain is right);
- where the window is not centred on the stack (the session's ends), the
  pattern's trend over the window says how the pattern at the stack's own
  time differs from the window's mean; per frequency, the pattern is scaled
  down (never up: extrapolating a noisy trend adds noise) by the share the
  trend takes off it there. At the first stack of a session whose gain was
  taken at its start, the window's pattern is the drift since then, which the
  stack does not have yet: it is left out, not stamped on the stack.

At the lowest frequencies, where ice and drift live, two halves measure
too little: there :mod:`.drift` takes each stack's scatter about the
window's trend, and the pattern at the stack's own time replaces both of the
above.

Read-out lines (a row's or a column's offset over half the frame, as a
CMOS read-out leaves them) are taken out before the 2-D filter and filtered
on their own (:func:`_half_lines`): a line over half the frame spreads its
power over every frequency along its normal, so the 2-D filter kept those
frequencies and, with them, the window's noise as lines in the other half.
A half line's mean averages hundreds of pixels, so its noise is small.

``benchmarks/bench_koma.py`` (section 5) measures them, per stack position.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.fft
from scipy import ndimage

from .drift import LowBand, Views, low_band

FORMS = ("subtract", "divide")


def _spectrum(image: np.ndarray) -> np.ndarray:
    """The image's real FFT (float32 in, complex64 out) without its mean.

    The DC bin is the image's sum: setting it to 0 takes the mean out as
    subtracting it first did, without a frame-sized copy. The images are
    relative (means near 0), so the transform's rounding is the same.
    """
    spectrum = scipy.fft.rfft2(np.asarray(image, np.float32), workers=-1)
    spectrum[0, 0] = 0
    return spectrum


def _smoothed_power(spectrum: np.ndarray, smoothing: int) -> np.ndarray:
    return ndimage.uniform_filter(spectrum.real**2 + spectrum.imag**2, smoothing, mode=("wrap", "nearest"))


#: Mirrored border (px, at least, each side) the Wiener filter works within: its FFT wraps there, not at the frame's edge.
MIRROR = 32


def _mirror_pads(shape: tuple[int, ...]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Pads of at least :data:`MIRROR` px a side that make each side of ``shape`` a fast FFT length."""
    pads = []
    for size in shape:
        extra = scipy.fft.next_fast_len(size + 2 * MIRROR, real=True) - size
        pads.append((extra // 2, extra - extra // 2))
    return pads[0], pads[1]


#: Half lines' profiles are high-passed over this many px (along the line's normal): slower change is left to the 2-D filter.
LINE_SMOOTHING = 32


#: A half line: the part of the frame it spans, its profile (shaped to broadcast there) and the pixels each value averages.
HalfLine = tuple[tuple[slice, slice], np.ndarray, int]


def _half_lines(image: np.ndarray) -> list[HalfLine]:
    """The image's read-out lines, each half of the frame apart: the means of the rows of its left and of its
    right half, then (with those taken out) of the columns of its top and of its bottom half, each high-passed
    over :data:`LINE_SMOOTHING` px so that slower change stays with the 2-D filter."""
    ny, nx = image.shape
    if ny < 4 or nx < 4:
        return []

    def high_pass(profile: np.ndarray) -> np.ndarray:
        return profile - ndimage.uniform_filter1d(profile, min(LINE_SMOOTHING, profile.size), mode="reflect")

    found: list[HalfLine] = []
    for columns in (slice(0, nx // 2), slice(nx // 2, nx)):
        profile = high_pass(image[:, columns].mean(axis=1, dtype=np.float64))
        found.append(((slice(None), columns), profile[:, None], columns.stop - columns.start))
    for rows in (slice(0, ny // 2), slice(ny // 2, ny)):
        means = image[rows, :].mean(axis=0, dtype=np.float64)
        for (_, columns), profile, _ in found[:2]:  # what the row lines put into these columns' means
            means[columns] -= profile[rows].mean()
        found.append(((rows, slice(None)), high_pass(means)[None, :], rows.stop - rows.start))
    return found


def _kept_lines(lines: list[HalfLine], noise_variance: float, noise: list[HalfLine] | None) -> list[HalfLine]:
    """Each half line scaled by the share of its power above its noise: white noise of ``noise_variance`` per
    pixel over the pixels it averages, or what the same lines of the measured noise hold, whichever is larger."""
    kept = []
    for k, (where, profile, pixels) in enumerate(lines):
        floor = noise_variance / pixels
        if noise:
            floor = max(floor, float(np.mean(np.square(noise[k][1]))))
        power = float(np.mean(np.square(profile)))
        if power > floor:
            kept.append((where, (1.0 - floor / power) * profile, pixels))
    return kept


def _take_out(image: np.ndarray, lines: list[HalfLine], sign: float = -1.0) -> np.ndarray:
    """``image`` (a float32 copy) with ``lines`` taken out (``sign`` -1) or put in (+1)."""
    image = np.array(image, np.float32)
    for where, profile, _ in lines:
        image[where] += np.float32(sign) * profile.astype(np.float32)
    return image


def wiener(
    pattern: np.ndarray,
    noise_variance: float,
    smoothing: int = 7,
    *,
    measured_noise: np.ndarray | None = None,
    trend: tuple[np.ndarray, float] | None = None,
    low: LowBand | None = None,
) -> tuple[np.ndarray, float]:
    """Keep, per spatial frequency, the share of ``pattern``'s power above white noise of ``noise_variance``/px.

    The periodogram is smoothed over ``smoothing`` x ``smoothing`` frequency
    bins before the gain ``max(0, 1 - noise / power)`` is taken, so a bin of
    pure noise that happens to be strong is not kept. ``measured_noise``: an
    image whose power is the pattern's noise as measured (the difference of
    two halves of the window, scaled: :meth:`Spread.difference`), taken
    where it is above the white level. ``trend`` ``(slope, offset)``: the
    pattern's change per stack over the window (:meth:`Spread.trend`) and the
    stack's position from the window's mean; the filtered pattern is then
    scaled per frequency by ``1 + offset <slope, pattern> / |pattern|^2``
    (smoothed, clipped to 0..1): down where the stack's own time lies toward
    less of it. ``low``: the window's lowest frequencies as its stacks'
    scatter judges them (:func:`.drift.low_band`); there the pattern at the
    stack's own time replaces all of the above. Read-out lines are taken out
    first and kept by their own noise (:func:`_half_lines`); they are added
    back after. Returns the filtered pattern (float32) and the share of the
    power kept of the pattern without its lines.

    The images are mirrored at the frame's edges (by at least :data:`MIRROR`
    px, to fast FFT lengths) before they are transformed: a periodic
    transform joins each edge to the opposite one, and the filter then
    mixed the two, which left the outer columns and rows with about 1.5x
    the pattern's error of the inside.
    """
    frame = pattern.shape
    pads = _mirror_pads(frame)
    # Read-out lines (a row or column offset over half the frame) spread their power over every frequency
    # along the line's normal: the 2-D filter kept those frequencies and with them the window's noise, as
    # lines, in the other half. Each half line's mean is far less noisy (hundreds of pixels): filtered alone.
    lines = _half_lines(pattern)
    pattern = _take_out(pattern, lines)
    noise_lines = None
    if measured_noise is not None:
        noise_lines = _half_lines(measured_noise)
        measured_noise = _take_out(measured_noise, noise_lines)
    lines = _kept_lines(lines, noise_variance, noise_lines)

    def mirrored(image: np.ndarray) -> np.ndarray:
        return np.pad(np.asarray(image, np.float32), pads, mode="symmetric")

    spectrum = _spectrum(mirrored(pattern))
    shape = (frame[0] + sum(pads[0]), frame[1] + sum(pads[1]))
    raw = None if low is None else low.take(spectrum, shape, frame)
    power = _smoothed_power(spectrum, smoothing)
    noise = noise_variance * shape[0] * shape[1]
    if measured_noise is not None:
        noise = np.maximum(noise, _smoothed_power(_spectrum(mirrored(measured_noise)), smoothing))
    # clip(1 - noise / power, 0, 1), in place after the division: the same numbers as that expression (in
    # float64 when the noise level is a float64 scalar, as it is from correction()), two temporaries fewer.
    factor = np.divide(noise, np.maximum(power, np.float32(1e-30)))
    np.subtract(1.0, factor, out=factor)
    factor = np.clip(factor, 0.0, 1.0, out=factor).astype(np.float32, copy=False)
    factor[0, 0] = 0.0
    kept = float((power * factor).sum() / max(power.sum(), 1e-30))
    spectrum *= factor
    slope_band = None
    if trend is not None and trend[1] != 0:
        slope, offset = trend
        slope_spectrum = _spectrum(mirrored(slope))
        slope_band = None if low is None else low.take(slope_spectrum, shape, frame)
        product = np.conjugate(spectrum)
        np.multiply(slope_spectrum, product, out=product)
        del slope_spectrum
        along = ndimage.uniform_filter(product.real, smoothing, mode=("wrap", "nearest"))
        del product
        # clip(1 + offset along / power, 0, 1) in the order of that expression, in place; float32 throughout,
        # as before (offset is a Python float: Spread.trend).
        along *= np.float32(offset)
        share = np.maximum(_smoothed_power(spectrum, smoothing), np.float32(1e-30))
        np.divide(along, share, out=share)
        del along
        share += np.float32(1)
        np.clip(share, 0.0, 1.0, out=share)
        spectrum *= share
    if low is not None:
        low.replace(spectrum, raw, slope_band, shape, frame)
    filtered = scipy.fft.irfft2(spectrum, s=shape, workers=-1)
    inside = filtered[pads[0][0] : pads[0][0] + frame[0], pads[1][0] : pads[1][0] + frame[1]]
    return _take_out(inside, lines, sign=1.0), kept


@dataclasses.dataclass
class Spread:
    """How the stacks of a window differ: two interleaved halves and the trend over the window.

    Half ``h`` holds ``n[h]`` stacks and ``q[h]``, the sum of their images
    ``S / mean(S)`` (float32). ``t1``/``t2`` are the sums of the stacks'
    positions (in stacks from the corrected one) and of their squares, ``q1``
    the sum of the images weighted by position; ``positioned`` is false once a
    stack came without a position (then no trend). The gain is applied after
    (it multiplies every term alike).
    """

    n: list[int]
    q: list[np.ndarray]
    t1: float = 0.0
    t2: float = 0.0
    q1: np.ndarray | None = None
    positioned: bool = True

    @classmethod
    def empty(cls, shape: tuple[int, ...]) -> Spread:
        return cls(
            [0, 0], [np.zeros(shape, np.float32), np.zeros(shape, np.float32)], q1=np.zeros(shape, np.float32)
        )

    def add(self, image: np.ndarray, half: int, position: float | None = None, sign: int = 1) -> None:
        """Add (``sign`` 1) or take out (-1) one stack's sum, at ``position``, to half ``half``."""
        level = float(np.mean(image))
        if level <= 0:
            return
        # One float32 image, scaled in the cast and reused in place (the same bits as a cast, then a product).
        relative = np.multiply(image, np.float32(sign / level), dtype=np.float32)
        self.n[half] += sign
        self.q[half] += relative
        if position is None:
            self.positioned = False
            return
        self.t1 += sign * position
        self.t2 += sign * position**2
        if self.q1 is None:
            self.q1 = np.zeros(relative.shape, np.float32)
        relative *= np.float32(position)
        self.q1 += relative

    def merge(self, other: Spread) -> None:
        """Take in ``other``'s stacks (their positions are not comparable: no trend after)."""
        for half in (0, 1):
            self.n[half] += other.n[half]
            self.q[half] += other.q[half]
        self.positioned = False

    def copy(self) -> Spread:
        return dataclasses.replace(
            self,
            n=list(self.n),
            q=[image.copy() for image in self.q],
            q1=None if self.q1 is None else self.q1.copy(),
        )

    def difference(self) -> np.ndarray | None:
        """Half A's mean image minus half B's, scaled so its power is the noise of the mean of both (None: a half is empty).

        With ``n_a`` and ``n_b`` stacks, the mean of all has noise variance
        ``sigma^2 / n`` and the difference ``sigma^2 (1/n_a + 1/n_b)``:
        the scale is ``sqrt(n_a n_b) / n``.
        """
        na, nb = self.n
        if na < 1 or nb < 1:
            return None
        difference = self.q[0] / na
        difference -= self.q[1] / nb
        difference *= np.float32(np.sqrt(na * nb) / (na + nb))
        return difference

    def trend(self) -> tuple[np.ndarray, float] | None:
        """``(slope, offset)``: the relative image's change per stack over the window (least squares) and the
        corrected stack's position (0) minus the window's mean position; None when the window is centred on
        the stack, or holds fewer than 3 stacks, or positions are unknown."""
        n = sum(self.n)
        if not self.positioned or self.q1 is None or n < 3:
            return None
        mean = self.t1 / n
        spread = self.t2 - n * mean * mean
        if abs(mean) < 1e-9 or spread <= 1e-9:
            return None
        slope = (self.q1 - np.float32(mean) * (self.q[0] + self.q[1])) / np.float32(spread)
        return slope, -mean


@dataclasses.dataclass
class Correction:
    """The normalisation of one stack: gain ``G`` (or none), then its KOMA pattern removed.

    ``pattern`` is relative (mean 0): the window's flat field ``T G / mean(T G) - 1``,
    denoised. ``dose_per_frame`` is the window's mean counts per frame after
    ``G``, the scale of the pattern in the subtract form (paper Eq. 9 with the
    KOMA term as ``I_CMOS``).
    """

    pattern: np.ndarray
    gain: np.ndarray | None
    dose_per_frame: float
    form: str
    kept: float

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """One frame normalised (float32), keeping its mean dose."""
        if self.form == "subtract":
            image = frame.astype(np.float32)
            if self.gain is not None:
                image *= self.gain
            return image - self._offset
        return np.multiply(frame, self._factor, dtype=np.float32)

    @functools.cached_property
    def _factor(self) -> np.ndarray:
        """The divide form as one factor per pixel (:meth:`gain_reference`): made once, used on every frame."""
        return self.gain_reference()

    @functools.cached_property
    def _offset(self) -> np.ndarray:
        """What the subtract form takes from each frame after the gain: made once, used on every frame."""
        return (np.float32(self.dose_per_frame) * self.pattern).astype(np.float32)

    def apply_sum(self, total: np.ndarray, n_frames: int) -> np.ndarray:
        """A sum of ``n_frames`` frames normalised as each frame is by :meth:`apply` (the correction is linear)."""
        image = np.asarray(total, np.float64)
        if self.gain is not None:
            image = image * self.gain
        if self.form == "subtract":
            return image - n_frames * self.dose_per_frame * self.pattern
        return image * self.reciprocal_flat()

    def rows(self, rows: slice) -> Correction:
        """The same correction for the rows ``rows`` of a frame only (to score on a subset of rows).

        Its own copies of those rows: a view would keep the whole frame's pattern (and gain) alive
        for as long as the scores are kept (the report's radius curve holds one per radius).
        """
        return dataclasses.replace(
            self,
            pattern=np.ascontiguousarray(self.pattern[rows]),
            gain=None if self.gain is None else np.ascontiguousarray(self.gain[rows]),
        )

    def reciprocal_flat(self) -> np.ndarray:
        flat = 1.0 + self.pattern
        return np.divide(1.0, flat, out=np.zeros_like(flat), where=flat > 0.05)

    def gain_reference(self) -> np.ndarray:
        """The whole correction as one multiplicative gain (float32) for MotionCor2 ``-Gain``/RELION ``--gainref``.

        Exact for the divide form; for the subtract form it is the first-order
        equivalent at the window's dose.
        """
        reference = self.reciprocal_flat()
        return reference if self.gain is None else (reference * self.gain).astype(np.float32)


def correction(
    total: np.ndarray,
    n_stacks: int,
    n_frames: int,
    gain: np.ndarray | None = None,
    *,
    form: str = "divide",
    denoise: bool = True,
    smoothing: int = 7,
    spread: Spread | None = None,
    views: Views | None = None,
    low: LowBand | None = None,
) -> Correction:
    """The correction of one stack from its window's sum ``total`` of ``n_stacks`` stacks and ``n_frames`` frames.

    ``gain`` is the stack's own gain (gamma-corrected or vendor), applied to
    the window sum too: exact when the window shares the stack's gain, since
    the mean is linear. ``spread``: how the window's stacks differ (module
    doc); without it only their shot noise is taken out. ``views``: the
    window's stacks on a block grid, whose low band (:func:`.drift.low_band`)
    then replaces the filter's lowest frequencies; ``low``: such a band
    already weighed (as the benchmarks' oracle weighs it), used without views.
    """
    if form not in FORMS:
        raise ValueError(f"KOMA form must be one of {FORMS}, got {form!r}")
    if n_stacks < 1:
        raise ValueError("the KOMA window holds no stack: every neighbour is excluded")
    counts = np.asarray(total, np.float64)
    flat = counts if gain is None else counts * gain
    level = flat.mean()
    if level <= 0:
        raise ValueError("the KOMA window sum is empty (no counts)")
    pattern = flat / level
    del flat
    pattern -= 1.0
    pattern = pattern.astype(np.float32)
    kept = 1.0
    if denoise:
        # Poisson: var(window mean of sums) = E[T] / n, with T = total / n (without a gain, the weight
        # is 1 and the mean is that of the counts themselves: no weighted copy of them).
        weighted = counts if gain is None else np.asarray(gain, np.float64) ** 2 * counts
        noise = float(np.mean(weighted)) / level**2
        del weighted
        measured, trend = None, None
        scale = np.float32(1.0)
        if spread is not None and gain is not None:
            # The spread's images are relative counts: the gain, at the window's mean level, makes them the pattern's.
            weights = np.asarray(gain, np.float64)
            scale = (weights / (np.mean(weights * counts) / np.mean(counts))).astype(np.float32)
            del weights
        # The filter below holds several frame-sized images of its own: the float64 counts go first.
        del counts
        if spread is not None:
            measured, trend = spread.difference(), spread.trend()  # new images: scaled in place
            if gain is not None:
                if measured is not None:
                    measured *= scale
                if trend is not None:
                    trend = (trend[0] * scale, trend[1])
        if views is not None:
            low = low_band(views, gain)
        pattern, kept = wiener(pattern, noise, smoothing, measured_noise=measured, trend=trend, low=low)
    return Correction(pattern, gain, float(level / n_frames), form, kept)
