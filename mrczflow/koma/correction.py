"""The KOMA correction of one stack from its window sum (paper section 5.2, Eq. 9).

The term is an estimate with shot noise of its own (``1 / (2a)`` of a
stack's), and that noise is the same in every frame of the stack it
corrects, so subtracting it raw *adds* correlated noise, about
``1 / (2a F)`` for ``F`` frames: the paper's reciprocal curves (Eq. 13).
:func:`wiener` keeps, per spatial frequency, only the share of the
pattern's power that stands above that known noise level.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.fft
from scipy import ndimage

FORMS = ("subtract", "divide")


def wiener(pattern: np.ndarray, noise_variance: float, smoothing: int = 7) -> tuple[np.ndarray, float]:
    """Keep, per spatial frequency, the share of ``pattern``'s power above white noise of ``noise_variance``/px.

    The periodogram is smoothed over ``smoothing`` x ``smoothing`` frequency
    bins before the gain ``max(0, 1 - noise / power)`` is taken, so a bin of
    pure noise that happens to be strong is not kept. Returns the filtered
    pattern (float32) and the share of its power kept.
    """
    shape = pattern.shape
    spectrum = scipy.fft.rfft2(np.asarray(pattern, np.float32) - np.float32(pattern.mean()), workers=-1)
    power = spectrum.real**2 + spectrum.imag**2
    power = ndimage.uniform_filter(power, smoothing, mode=("wrap", "nearest"))
    noise = noise_variance * pattern.size
    factor = np.clip(1.0 - noise / np.maximum(power, 1e-30), 0.0, 1.0).astype(np.float32)
    factor[0, 0] = 0.0
    kept = float((power * factor).sum() / max(power.sum(), 1e-30))
    filtered = scipy.fft.irfft2(spectrum * factor, s=shape, workers=-1)
    return filtered.astype(np.float32), kept


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
        image = frame.astype(np.float32)
        if self.gain is not None:
            image *= self.gain
        if self.form == "subtract":
            return image - np.float32(self.dose_per_frame) * self.pattern
        return image * self.reciprocal_flat()

    def rows(self, rows: slice) -> Correction:
        """The same correction for the rows ``rows`` of a frame only (to score on a subset of rows)."""
        return dataclasses.replace(
            self, pattern=self.pattern[rows], gain=None if self.gain is None else self.gain[rows]
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
) -> Correction:
    """The correction of one stack from its window's sum ``total`` of ``n_stacks`` stacks and ``n_frames`` frames.

    ``gain`` is the stack's own gain (gamma-corrected or vendor), applied to
    the window sum too: exact when the window shares the stack's gain, since
    the mean is linear.
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
    pattern = (flat / level - 1.0).astype(np.float32)
    kept = 1.0
    if denoise:
        # Poisson: var(window mean of sums) = E[T] / n, with T = total / n.
        weight = 1.0 if gain is None else np.asarray(gain, np.float64) ** 2
        noise = float(np.mean(weight * counts)) / level**2
        pattern, kept = wiener(pattern, noise, smoothing)
    return Correction(pattern, gain, float(level / n_frames), form, kept)
