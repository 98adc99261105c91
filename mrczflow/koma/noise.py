"""Correlated noise between the frames of a stack (paper Eq. 7): the fixed-pattern noise KOMA removes.

The workflow reports it per stack before and after correction, from the
stack's half sums (:func:`half_correlation`, with the fixed-pattern DQE loss
from the same two halves: no frame is read); the benchmarks score every
method with it on the frames (:func:`correlated_noise`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import numpy as np
import scipy.fft


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


def _enough(n: int) -> None:
    if n < 2:
        raise ValueError("correlated noise needs at least two frames")


def _mean_pair(total: np.ndarray, squares: float, n: int) -> float:
    """The mean of ``<z_i, z_j>`` over pairs ``i != j`` from ``total = sum_i z_i`` and ``squares = sum_i |z_i|^2``."""
    return float((np.dot(total, total) - squares) / (n * (n - 1)))


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


def half_correlation(half_a: np.ndarray, half_b: np.ndarray, frames_a: int, frames_b: int) -> float:
    """Correlated noise (paper Eq. 7, the mean correlation of a stack's frame pairs) from two half sums.

    ``half_a`` and ``half_b`` are the sums of ``frames_a`` and ``frames_b``
    frames of one stack (the even and the odd ones), normalised as the frames
    are. Each centred frame has norm ``s`` and each pair correlation ``rho``,
    so with ``P = <A, B>`` (the ``frames_a * frames_b`` cross pairs) and
    ``Q = |A|^2 + |B|^2`` (each frame once, the pairs within each half once)
    ``rho = P (na + nb) / (na nb (Q - k P))``, ``k = (na (na - 1) + nb (nb - 1)) / (na nb)``.
    It is Eq. 7's average taken over the pairs of unlike parity, with one
    norm for every frame: no frame needed. On a static specimen the two
    agree within their shot noise (this one spreads ``sqrt(2)`` times more);
    a specimen that drifts so fast that frames a few apart no longer look
    alike gives this one more, since odd lags hold frames 1 apart twice as
    often (tests/test_metrics.py measures both).
    """
    a = np.asarray(half_a, np.float64).ravel()
    b = np.asarray(half_b, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(
            f"two half sums of one shape are needed, got {np.shape(half_a)} and {np.shape(half_b)}"
        )
    if frames_a < 1 or frames_b < 1:
        raise ValueError("correlated noise needs at least two frames")
    a = a - a.mean()
    b = b - b.mean()
    cross = float(np.dot(a, b))
    power = float(np.dot(a, a) + np.dot(b, b))
    if not np.isfinite(cross + power):
        raise ValueError("a half sum holds NaN or infinity: its correlation is not defined")
    within = (frames_a * (frames_a - 1) + frames_b * (frames_b - 1)) / (frames_a * frames_b)
    norms = power - within * cross
    if not norms > 1e-10 * power:
        raise ValueError("constant frames have no defined correlation")
    return cross * (frames_a + frames_b) / (frames_a * frames_b * norms)


class HalfSums:
    """The sums of a stack's even and odd frames (added one frame at a time, or given): for
    :func:`fixed_pattern_loss` and :func:`half_correlation`."""

    def __init__(self) -> None:
        self.halves: list[np.ndarray | None] = [None, None]
        self.n = [0, 0]

    @classmethod
    def of(cls, even: np.ndarray, odd: np.ndarray, frames: int) -> HalfSums:
        """The halves of a stack of ``frames`` frames: ``even`` holds frames 0, 2, ..., ``odd`` 1, 3, ...."""
        halves = cls()
        halves.halves = [np.asarray(even, np.float64), np.asarray(odd, np.float64)]
        halves.n = [(frames + 1) // 2, frames // 2]
        return halves

    def add(self, frame: np.ndarray) -> None:
        half = (self.n[0] + self.n[1]) % 2
        if self.halves[half] is None:
            self.halves[half] = np.array(frame, np.float64)
        else:
            self.halves[half] += frame  # in place: no float64 copy of each frame
        self.n[half] += 1

    def _corrected(self, correct) -> list[np.ndarray]:
        if self.n[1] == 0:
            raise ValueError("the metrics of a stack need at least two frames")
        return [h if correct is None else correct(h, n) for h, n in zip(self.halves, self.n, strict=True)]

    def loss(self, correct=None) -> float:
        """:func:`fixed_pattern_loss` of the halves, each first put through ``correct(sum, n_frames)`` if given."""
        halves = self._corrected(correct)
        # Per frame: with an odd number of frames the halves differ by one, and the fixed
        # pattern must still cancel in their difference.
        return fixed_pattern_loss(halves[0] / self.n[0], halves[1] / self.n[1])

    def correlation(self, correct=None) -> float:
        """:func:`half_correlation` of the halves, each first put through ``correct(sum, n_frames)`` if given."""
        halves = self._corrected(correct)
        return half_correlation(halves[0], halves[1], self.n[0], self.n[1])
