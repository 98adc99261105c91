"""Knock-out moving average (KOMA) normalisation (paper section 5.2).

For stack ``i`` of a session of ``n`` stacks, the KOMA term is the mean of
the stacks in a window of ``2a + 1`` around ``i`` with ``i`` itself knocked
out, i.e. ``2a`` stacks; at the ends of the session the window is shifted,
not shrunk (paper: "end-points are asymmetrically adjusted"). High-contrast
stacks (carbon, crystalline ice) are kept out of every window: they add
nothing to the sums, so a window holding ``e`` of them averages ``2a - e``
stacks.

Cost and memory that do not grow with the radius ``a``: the per-stack sum
images are integers, so exact prefix sums ``C[k] = S[0] + ... + S[k-1]``
give any window sum as ``C[hi] - C[lo]``: one subtraction, then the
knock-out of ``S[i]``, per stack, whatever ``a`` (the paper's two adds and
two subtractions, written as prefix differences). ``C`` is kept modulo
``2**32`` (int32 files): the difference of two prefixes is exact whenever
the window sum itself fits, i.e. below ``2**32`` counts per pixel.

How this maps onto Snakemake rules and files (``workflow/rules/koma.smk``):

- ``koma_sum`` (per stack): the outlier-filtered sum ``S[k]`` and the
  stack's own contrast, which decides whether it is kept out of windows.
- ``koma_prefix`` (per stack, a chain): ``C[k+1] = C[k] + S[k]``, one add.
- ``koma`` (per stack): reads ``S[i]``, ``C[lo]`` and ``C[hi]`` only,
  builds the term and normalises the movie.

A stack appended to the session adds one prefix file; only the stacks whose
window now reaches it (the last ``a``, see :func:`windows_changed_by_append`)
get new input files and rerun. Nothing else in the session is recomputed.

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


def window(index: int, n_stacks: int, radius: int) -> tuple[int, int]:
    """Stacks ``[lo, hi)`` around ``index``: ``2 radius + 1`` of them, shifted at the ends, ``index`` inside."""
    if radius < 1:
        raise ValueError(f"KOMA radius must be >= 1, got {radius}")
    size = 2 * radius + 1
    if n_stacks < size:
        raise ValueError(
            f"a KOMA radius of {radius} needs at least {size} stacks; the session has {n_stacks}"
        )
    if not 0 <= index < n_stacks:
        raise IndexError(f"stack {index} out of range for {n_stacks} stacks")
    lo = min(max(index - radius, 0), n_stacks - size)
    return lo, lo + size


def windows_changed_by_append(n_stacks: int, radius: int) -> list[int]:
    """Stacks (of the first ``n_stacks``) whose window differs once one more stack is appended."""
    if n_stacks < 2 * radius + 1:
        return list(range(n_stacks))
    return [i for i in range(n_stacks) if window(i, n_stacks, radius) != window(i, n_stacks + 1, radius)]


def _as_sum(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype.kind not in "iu":
        raise TypeError(f"KOMA sums must be integer images, got {image.dtype}")
    return image


def add_to_prefix(prefix: np.ndarray | None, total: np.ndarray) -> np.ndarray:
    """``C[k+1] = C[k] + S[k]`` modulo ``2**32`` (int32); ``prefix=None`` is ``C[0] = 0``."""
    total = _as_sum(total).astype(np.uint32)
    if prefix is None:
        return total.view(np.int32)
    return (np.asarray(prefix, np.int32).view(np.uint32) + total).view(np.int32)


def prefix_sums(sums) -> list[np.ndarray]:
    """All prefixes ``C[0..n]`` of a list of sums (tests and in-memory benchmarks)."""
    sums = [_as_sum(s) for s in sums]
    prefixes = [np.zeros(sums[0].shape, np.int32)]
    for total in sums:
        prefixes.append(add_to_prefix(prefixes[-1], total))
    return prefixes


def window_sum(prefix_lo: np.ndarray | None, prefix_hi: np.ndarray, own: np.ndarray | None) -> np.ndarray:
    """Exact ``C[hi] - C[lo] - S[i]`` (int64); ``prefix_lo=None`` is ``C[0]``, ``own=None`` knocks nothing out."""
    total = np.asarray(prefix_hi, np.int32).view(np.uint32).copy()
    if prefix_lo is not None:
        total -= np.asarray(prefix_lo, np.int32).view(np.uint32)
    if own is not None:
        total -= _as_sum(own).astype(np.uint32)
    return total.astype(np.int64)


def contrast(total: np.ndarray, gain: np.ndarray | None = None, block: int = 32) -> float:
    """Specimen contrast of a stack sum: relative spread of its ``block``-px means beyond shot noise.

    Gain-normalised first when ``gain`` is given. Vitreous ice with particles
    stays near the detector's own flat-field spread (a few per cent); carbon
    film and crystalline ice reach 10-20%.
    """
    image = np.asarray(total, np.float64)
    if gain is not None:
        image = image * gain
    ny, nx = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    if ny == 0 or nx == 0:
        raise ValueError(f"a {image.shape} image is smaller than one {block}-px block")
    means = image[:ny, :nx].reshape(ny // block, block, nx // block, block).mean(axis=(1, 3))
    level = means.mean()
    if level <= 0:
        return 0.0
    shot = (
        1.0 / (level * block * block) if gain is None else float(np.mean(gain**2)) / (level * block * block)
    )
    return float(np.sqrt(max(means.var() / level**2 - shot, 0.0)))


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
