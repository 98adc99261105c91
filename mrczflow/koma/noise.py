"""Correlated noise between the frames of a stack (paper Eq. 7): the fixed-pattern noise KOMA removes.

The workflow reports it per stack before and after correction; the
benchmarks score every method with it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable

import numpy as np
import scipy.fft
from scipy.linalg import blas


class CorrelationAccumulator:
    """Correlated noise (paper Eq. 7) of frames added one at a time, for steps that stream frames.

    Holds one frame-sized float32 sum of standardised frames.
    """

    def __init__(self) -> None:
        self.total: np.ndarray | None = None
        self.n = 0

    def add(self, frame: np.ndarray) -> None:
        # All in float32 (a float64 copy of each frame cost 4x as much): per pixel the rounding is
        # 6e-8 of a value and unbiased, so over millions of pixels the frame's norm and the running
        # sum stay within ~1e-5 relative, and the mean correlation within ~1e-6 (checked against
        # float64 in tests/test_metrics.py).
        z = np.array(frame, dtype=np.float32, copy=True).ravel()
        z -= z.mean()
        norm = np.sqrt(float(np.square(z).sum()))  # numpy's pairwise sum: BLAS's float32 dot drifts by 3e-5
        if norm == 0:
            raise ValueError("a constant frame has no defined correlation")
        z *= np.float32(1.0 / norm)
        if self.total is None:
            self.total = z
        else:
            self.total += z
        self.n += 1

    @property
    def value(self) -> float:
        _enough(self.n)
        return _mean_pair(self.total.astype(np.float64), self.n, self.n)


class ScaledCorrelation:
    """Correlated noise (paper Eq. 7) of frames each multiplied by one fixed per-pixel ``factor``, the products
    never formed: the value :class:`CorrelationAccumulator` gives for ``frame * factor``, in about a third of
    the passes over memory (the KOMA step scores two such normalisations per frame, the report's radius curve
    one per radius).

    With ``c`` the factor and ``x`` a frame of ``N`` pixels, the product's mean is ``m = <x, c> / N``, its
    centred norm ``s = sqrt(<x^2, c^2> - N m^2)``, and the sum of the standardised products is
    ``c * sum_i x_i / s_i - sum_i m_i / s_i``: only ``sum_i x_i / s_i`` is held (float32, one frame's
    size). The products of pixels are summed a row at a time in float32 and the rows in float64 (a float32
    BLAS dot over a K2 frame's scored rows was off by 5e-7 of its value; this, by 1e-10). Holds three
    frame-sized float32 arrays: the factor (a correction's own, not copied), its square and that sum.
    ``factor`` None: the frames as they are.
    """

    def __init__(self, factor: np.ndarray | None = None) -> None:
        self.factor = None if factor is None else _as_rows(factor)
        self.factor_squared = None if factor is None else np.square(self.factor)
        self.weighted: np.ndarray | None = None  # sum_i x_i / s_i, flat
        self.offset = 0.0  # sum_i m_i / s_i
        self.squares = 0.0  # sum_i |z_i|^2
        self.n = 0

    def add(self, frame: np.ndarray, squared: np.ndarray | None = None) -> None:
        """Add one frame (before the factor); ``squared``: its square, when the caller has it already."""
        x = _as_rows(frame)
        if self.factor is not None and x.shape != self.factor.shape:
            raise ValueError(f"a frame of {np.shape(frame)} pixels against a factor of {self.factor.shape}")
        squared = np.square(x) if squared is None else _as_rows(squared)
        if self.factor is None:
            total, power = _row_sums(x), _row_sums(squared)
        else:
            total, power = _row_dots(x, self.factor), _row_dots(squared, self.factor_squared)
        mean = total / x.size
        norm2 = power - x.size * mean * mean
        if not np.isfinite(norm2):
            raise ValueError("a frame or the factor holds NaN or infinity: its correlation is not defined")
        if not norm2 > 1e-10 * power:  # a constant frame: its spread is rounding only
            raise ValueError("a constant frame has no defined correlation")
        scale = np.float32(1.0 / np.sqrt(norm2))
        if self.weighted is None:
            self.weighted = x.ravel() * scale
        else:  # in place, with no temporary frame
            self.weighted = blas.saxpy(x.ravel(), self.weighted, a=scale)
        self.offset += mean * float(scale)
        # The standardised frame's squared norm as rounded (1 to ~6e-8): the value subtracts it, not 1, since
        # (|sum z|^2 - sum |z|^2) / (n (n - 1)) is small beside either term.
        self.squares += float(scale) ** 2 * norm2
        self.n += 1

    @property
    def value(self) -> float:
        _enough(self.n)
        total = self.weighted.astype(np.float64)
        if self.factor is not None:
            total *= self.factor.ravel()
        total -= self.offset
        return _mean_pair(total, self.squares, self.n)


class AppliedCorrelation:
    """:class:`CorrelationAccumulator` of frames each put through ``normalise`` first: any normalisation
    (:class:`ScaledCorrelation` takes the ones that are a factor per pixel faster)."""

    def __init__(self, normalise: Callable[[np.ndarray], np.ndarray]) -> None:
        self.normalise = normalise
        self.accumulator = CorrelationAccumulator()

    def add(self, frame: np.ndarray, squared: np.ndarray | None = None) -> None:
        """Add one frame before normalisation (``squared`` is for :class:`ScaledCorrelation`'s callers)."""
        self.accumulator.add(self.normalise(frame))

    @property
    def value(self) -> float:
        return self.accumulator.value


def _enough(n: int) -> None:
    if n < 2:
        raise ValueError("correlated noise needs at least two frames")


def _mean_pair(total: np.ndarray, squares: float, n: int) -> float:
    """The mean of ``<z_i, z_j>`` over pairs ``i != j`` from ``total = sum_i z_i`` and ``squares = sum_i |z_i|^2``."""
    return float((np.dot(total, total) - squares) / (n * (n - 1)))


def _as_rows(image: np.ndarray) -> np.ndarray:
    """``image`` as a C-contiguous float32 2-D array (rows of pixels), a copy only where it is not one."""
    image = np.ascontiguousarray(image, np.float32)
    return image.reshape(1, -1) if image.ndim < 2 else image.reshape(-1, image.shape[-1])


def _row_sums(image: np.ndarray) -> float:
    return float(image.sum(axis=1).sum(dtype=np.float64))


def _row_dots(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.matmul(a[:, None, :], b[:, :, None]).sum(dtype=np.float64))


def correlated_noise(frames: np.ndarray | Iterable[np.ndarray]) -> float:
    """Mean Pearson correlation (paper Eq. 7) over all pairs of frames of one stack.

    Fixed-pattern noise (gain errors, hot pixels, read-out lines) is the same
    in every frame and so correlates them; shot noise does not. Uses
    ``sum_{i<j} <z_i, z_j> = (|sum z_i|^2 - sum |z_i|^2) / 2`` on
    standardised frames, so the cost is linear in the number of frames.
    Holds two frame-sized float64 arrays.
    """
    accumulator = CorrelationAccumulator()
    for frame in frames:
        accumulator.add(frame)
    return accumulator.value


#: The band of :func:`fixed_pattern_loss`, in units of Nyquist: above it an unaligned sum holds
#: little specimen (its drift and the particles' size blur it), below it the specimen counts as "fixed".
FIXED_PATTERN_BAND = (0.25, 1.0)


def fixed_pattern_loss(
    half_a: np.ndarray, half_b: np.ndarray, band: tuple[float, float] = FIXED_PATTERN_BAND
) -> float:
    """The DQE lost to fixed-pattern noise: ``1 - P_diff / P_sum`` from two half-dose sums of a stack.

    ``half_a`` and ``half_b`` are the mean frames of the even and of the odd
    frames (gain-normalised as the stack is). What is fixed (the detector's
    pattern left after normalisation) is the same in both, shot noise is not:
    the power spectrum of their difference is the noise alone, that of their
    sum the noise plus four times the fixed pattern. So ``P_diff / P_sum`` is
    the share of the DQE the fixed pattern leaves (1: none lost), the measure
    a detector physicist uses. The spectra are summed over the ``band`` of
    spatial frequencies (radius in fractions of Nyquist) before the ratio; the
    images may be every k-th row of the frames (the KOMA step scores those):
    both spectra fold alike. 0 is a perfect normalisation; shot noise alone
    spreads it by about ``2 / sqrt(pixels)``. Sides whose FFT is slow are
    cropped to the nearest fast length below (:func:`fast_shape`: a K2 frame's
    3838 px become 3750).
    """
    a, b = np.asarray(half_a, np.float64), np.asarray(half_b, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"two half sums of the same 2-D shape are needed, got {a.shape} and {b.shape}")
    ny, nx = fast_shape(a.shape)
    a, b = a[:ny, :nx], b[:ny, :nx]
    inside = _band(a.shape, band)
    denominator = _band_power(a + b, inside)
    if denominator <= 0:
        raise ValueError("the half sums hold no signal in the band")
    return 1.0 - _band_power(a - b, inside) / denominator


@functools.lru_cache(maxsize=16)
def fast_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The largest shape within ``shape`` whose real FFT is fast (each side a product of 2, 3, 5).

    A side with a large prime factor (3838 = 2 x 19 x 101 on a K2; the 1,237
    rows the KOMA step scores are prime) takes several times as long; a few
    pixels off the edge change a spectrum's band power by a few per cent of
    its shot noise.
    """
    fast = []
    for side in shape:
        length = side
        while length > 1 and scipy.fft.next_fast_len(length, real=True) != length:
            length -= 1
        fast.append(length)
    return tuple(fast)


@functools.lru_cache(maxsize=4)
def _band(shape: tuple[int, int], band: tuple[float, float]) -> np.ndarray:
    """Where the radius of ``rfft2``'s frequencies of ``shape`` lies in ``band`` (fractions of Nyquist)."""
    fy = np.fft.fftfreq(shape[0])[:, None] * 2
    fx = np.fft.rfftfreq(shape[1])[None, :] * 2
    radius = np.hypot(fy, fx)
    return (radius >= band[0]) & (radius <= band[1])


def _band_power(image: np.ndarray, inside: np.ndarray) -> float:
    """The power spectrum of ``image`` (its mean removed) summed where ``inside`` is true."""
    # float32: the spectrum's rounding (~1e-7 of each bin) is far below the band sum's shot noise.
    spectrum = scipy.fft.rfft2((image - image.mean()).astype(np.float32))[inside]
    return float(
        np.square(spectrum.real, dtype=np.float64).sum() + np.square(spectrum.imag, dtype=np.float64).sum()
    )


class HalfSums:
    """The sums of a stack's even and odd frames, added one frame at a time (for :func:`fixed_pattern_loss`)."""

    def __init__(self) -> None:
        self.halves: list[np.ndarray | None] = [None, None]
        self.n = [0, 0]

    def add(self, frame: np.ndarray) -> None:
        half = (self.n[0] + self.n[1]) % 2
        if self.halves[half] is None:
            self.halves[half] = np.array(frame, np.float64)
        else:
            self.halves[half] += frame  # in place: no float64 copy of each frame
        self.n[half] += 1

    def loss(self, correct=None) -> float:
        """:func:`fixed_pattern_loss` of the halves, each first put through ``correct(sum, n_frames)`` if given."""
        if self.n[1] == 0:
            raise ValueError("the fixed-pattern loss needs at least two frames")
        halves = [h if correct is None else correct(h, n) for h, n in zip(self.halves, self.n, strict=True)]
        # Per frame: with an odd number of frames the halves differ by one, and the fixed
        # pattern must still cancel in their difference.
        return fixed_pattern_loss(halves[0] / self.n[0], halves[1] / self.n[1])
