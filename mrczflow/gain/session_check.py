"""The gain's orientation checked on the session itself: each stack's sum, no reference needed.

A stack's raw sum carries each pixel's response; a gain reference in the
right orientation cancels it, so the sum times the gain is flatter than the
sum alone. In a wrong orientation the gain's pattern is added a second time
and the product is *less* flat than the sum alone.

Both images are high-passed (minus a 5x5 mean) so the specimen and the
illumination do not count, and robustly clipped so hot and dead pixels do
not. With ``d`` the sum's and ``e`` the gain's relative high-pass pattern, the
product's spread is ``var(d) + var(e) + 2 cov(d, e)``: orientations differ only
through ``cov(d, e)``, whose noise over ``n`` pixels is ``std(d) std(e) / sqrt(n)``.
Each orientation therefore gets a score ``z = corr(d, e) sqrt(n)`` (about -N(0,1)
for a gain unrelated to the pixels, strongly negative for the right one), and
every decision needs a margin of :data:`MARGIN` noise units, so a low-dose stack
whose sum cannot show the gain's pattern is "not decided", never "wrong".
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from scipy import ndimage

from .reference import ROTATIONS, orient
from .robust import robust_clip

#: Noise units (see the module docstring) a decision needs; about 2e-23 per orientation by chance.
MARGIN = 10.0
#: A gain whose pixel pattern is below this relative spread is flat: nothing to check.
FLAT_GAIN = 1e-4
#: The check reads the central ``CROP`` x ``CROP`` pixels: a million pixels decide at any usable dose
#: (the noise units shrink as 1/sqrt(pixels)) and keep it well under a second on a 4k sum.
CROP = 1024

VERDICTS = ("right", "wrong", "worse than no gain", "not decided", "flat gain")


class GainOrientationError(ValueError):
    """The configured gain orientation makes the session's sums less flat than another orientation or no gain."""


def _label(rotate: int, flip: str) -> str:
    return f"rotate {rotate}, flip {flip}"


def _canonical(rotate: int, flip: str) -> tuple[int, str]:
    # flip x equals rotate 180 + flip y: the 8 orientations are 4 rotations x {none, y}
    return ((rotate + 180) % 360, "y") if flip == "x" else (rotate, flip)


def _centre(image: np.ndarray) -> np.ndarray:
    rows, columns = (max(0, (size - CROP) // 2) for size in image.shape)
    return image[rows : rows + CROP, columns : columns + CROP]


def _pattern(image: np.ndarray) -> np.ndarray:
    """Relative high-pass pattern of an image's centre: ``x / mean - 5x5 mean of that``, clipped of outliers."""
    clean = robust_clip(_centre(image))
    relative = clean / clean.mean() - 1.0
    return relative - ndimage.uniform_filter(relative, 5, mode="reflect")


@dataclasses.dataclass(frozen=True)
class OrientationCheck:
    """The outcome of :func:`check_on_sum`.

    ``spreads`` maps each orientation that fits (``"rotate R, flip F"``) to
    the relative high-pass spread of the sum times the gain so oriented;
    ``no_gain`` is that of the sum alone; ``scores`` the noise-scaled
    correlations (negative: the gain flattens). ``verdict`` is one of
    :data:`VERDICTS`; ``best`` the flattest orientation.
    """

    configured: str
    best: str
    verdict: str
    spreads: dict[str, float]
    scores: dict[str, float]
    no_gain: float

    @property
    def problem(self) -> bool:
        """True if the configured orientation makes the sum less flat than another or than no gain."""
        return self.verdict in ("wrong", "worse than no gain")

    def message(self) -> str:
        """One line for the log and the report."""
        configured = self.spreads.get(self.configured, math.nan)
        if self.verdict == "wrong":
            return (
                f"gain orientation ({self.configured}) is wrong: {self.best} flattens this stack's sum "
                f"(relative spread {self.spreads[self.best]:.4g} vs {configured:.4g}; "
                f"{self.no_gain:.4g} without gain); set gain.rotate/gain.flip to {self.best}, "
                "or gain.orientation_check: warn to go on anyway"
            )
        if self.verdict == "worse than no gain":
            return (
                f"the gain makes this stack's sum less flat in every orientation (best {self.best}: "
                f"{self.spreads[self.best]:.4g} vs {self.no_gain:.4g} without gain): is it this detector's gain? "
                "Set gain.orientation_check: warn to go on anyway"
            )
        if self.verdict == "not decided":
            return (
                f"gain orientation not decided on this sum (too few counts to tell; flattest {self.best}); "
                f"kept {self.configured}"
            )
        if self.verdict == "flat gain":
            return "the gain has no pixel pattern: nothing to check"
        return (
            f"gain orientation {self.configured} confirmed: relative spread {configured:.4g} "
            f"vs {self.no_gain:.4g} without gain"
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the stack's statistics."""
        return {**dataclasses.asdict(self), "message": self.message()}


def check_on_sum(
    total: np.ndarray, gain: np.ndarray, rotate: int = 0, flip: str = "none"
) -> OrientationCheck:
    """Check the configured orientation of the raw (unoriented) ``gain`` on a stack's ``total``.

    Parameters
    ----------
    total
        The stack's raw sum (counts, no gain applied).
    gain
        The vendor gain as stored in its file, not yet oriented.
    rotate, flip
        The configured orientation (:func:`.reference.orient`).

    Returns
    -------
    OrientationCheck
        ``verdict`` "wrong" when another orientation is flatter by more than
        :data:`MARGIN` noise units, "worse than no gain" when the configured
        (and best) orientation adds more spread than it removes by that margin.
    """
    configured = _label(*_canonical(rotate, flip))
    d = _pattern(total)
    n = d.size
    d_std = float(d.std())
    spreads: dict[str, float] = {}
    scores: dict[str, float] = {}
    gain_std = 0.0
    for r in ROTATIONS:
        for f in ("none", "y"):
            oriented = orient(gain, r, f, copy=False)
            if oriented.shape != total.shape:
                continue
            e = _pattern(oriented)
            gain_std = float(e.std())
            label = _label(r, f)
            spreads[label] = float((d + e).std())
            correlation = float(np.mean(d * e) / (d_std * gain_std)) if d_std * gain_std > 0 else 0.0
            scores[label] = correlation * math.sqrt(n)
    if configured not in spreads:
        raise GainOrientationError(f"the gain in {configured} does not fit {total.shape} frames")
    best = min(scores, key=scores.get)
    if gain_std < FLAT_GAIN or d_std == 0:
        verdict = "flat gain"
    elif scores[best] < -MARGIN and scores[configured] - scores[best] > MARGIN:
        verdict = "wrong"
    elif (gain_std / (2 * d_std)) * math.sqrt(n) + scores[configured] > MARGIN:
        # var(e) + 2 cov(d, e) > 0 by the margin: the gain adds more spread than it cancels
        verdict = "worse than no gain"
    elif scores[configured] < -MARGIN:
        verdict = "right"
    else:
        verdict = "not decided"
    return OrientationCheck(configured, best, verdict, spreads, scores, float(d_std))
