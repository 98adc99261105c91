"""The KOMA radius curve on the session's own stacks (paper Fig. 12), from the sums the workflow kept."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..gain.reference import load_gain
from ..gain.settings import GainSettings
from ..koma.settings import KomaSettings
from ..koma.steps import WindowSum, noise_after, score_rows, sum_shape
from ..koma.windows import window
from .session import ReportPaths, Session

RADII = (1, 2, 4, 8, 12, 16, 20, 25)


def radius_curves(
    session: Session,
    paths: ReportPaths,
    samples: int,
    *,
    gain_template: str | None = None,
    gain: GainSettings | None = None,
    gamma_gain: bool = False,
    flags: bool = False,
    koma: KomaSettings | None = None,
    threads: int = 1,
) -> tuple[dict[str, list[tuple[int, float]]], float]:
    """Correlated noise vs KOMA radius for up to ``samples`` ordinary stacks, from the session's own sums.

    The radii are :data:`RADII` and the one in force (rule koma's, from its
    record), up to the largest a window of the session can have.

    The windows of growing radius are nested, so each sample reads each sum
    of its largest window once. ``gain_template`` is the gain applied before
    KOMA (``{stack}`` is filled in), oriented by ``gain`` (None: already
    oriented), raised to the stack's gamma when ``gamma_gain`` (the session's
    gamma fit, as rule apply_gain does); ``flags`` says the outliers were
    filtered. Returns the curves and the mean correlated noise with the gain
    alone. Each point is scored as rule koma scores a stack, on its half sums
    (:func:`mrczflow.koma.steps.noise_after`): no frame is read. Holds, per
    thread (``threads`` samples at once), two sums, the sample's halves and
    each radius's correction on the scored rows; reads a sample's half sum
    once, and not at all when rule koma measured every point already: a
    radius whose window uses the very stacks, at the same places, that the
    stack's KOMA step used (its record's ``window_places``) takes that step's
    measured noise (the same correction of the same halves) instead of making
    it again. When that is the largest radius (a short session), the stacks it
    adds are judged from their records and their sums are read only if the
    point must be made.
    """
    koma = koma or KomaSettings()
    orientation = gain or GainSettings()
    stacks = [s for s in session.stacks if s in session.screen]  # those with a sum, in order
    usable = [s for s in stacks if s in session.koma and not session.koma[s]["high_contrast"]]
    if not usable:
        return {}, float("nan")
    picks = [usable[int(i)] for i in np.linspace(0, len(usable) - 1, min(samples, len(usable)))]
    largest = (len(stacks) - 1) // 2

    def curve(stack: str) -> list[tuple[int, float]]:
        index = stacks.index(stack)
        sum_path = paths.of("sums", stack)
        shape = sum_shape(sum_path)
        gain_path = gain_template.format(stack=stack) if gain_template else None
        gain_image = load_gain(gain_path, shape, orientation.rotate, orientation.flip) if gain_path else None
        if gamma_gain and gain_image is not None and session.gamma:
            from ..gain.fit import GammaFit, gain_to_gamma  # scipy.optimize (0.3 s): only for a gamma gain

            # As rule apply_gain writes it: gain ** gamma(the stack's dose rate), from the session's fit.
            gamma, _ = GammaFit.from_dict(session.gamma).gamma(float(session.ingest[stack]["dose_rate"]))
            gain_image = gain_to_gamma(gain_image, gamma)
        record = session.koma.get(stack, {})
        measured = _measured_window(record, koma, gain_path is not None, flags)
        in_force = record.get("radius")  # drawn too (the curve's point for this session), when not in RADII
        sums = WindowSum(stack, shape, koma)
        added: set[str] = {stack}
        points: list[tuple[int, float | None]] = []  # None: measured below
        fixes = []
        radii = sorted(r for r in {*RADII, in_force} if isinstance(r, int) and 1 <= r <= largest)
        for radius in radii:
            lo, hi = window(index, len(stacks), radius)
            # The largest radius, when rule koma measured it (a short session): its new stacks join the
            # screen from their records, and their sums are read only if the window is not rule koma's.
            unread = measured is not None and radius == in_force == radii[-1]
            for place, other in enumerate(stacks[lo:hi], start=lo):
                if other not in added:
                    added.add(other)
                    # Its place, as rule koma gives it.
                    sums.add(paths.of("sums", other), place - index, accumulate=not unread)
            verdicts = sums.judge()  # the screen once: the window's choice and its correction share it
            used, _, _ = sums.choose(verdicts)
            if not used:  # every stack so far kept out by the screen (or none yet)
                continue
            if measured is not None and {s: sums.members[s].position for s in used} == measured[0]:
                points.append((radius, measured[1]))  # the window rule koma used: its own measurement
                continue
            # On the scored rows only: one correction per radius, the half sum read once for all.
            points.append((radius, None))
            fixes.append(sums.correction(gain_image, verdicts).rows(score_rows(shape[0])))
        del sums, gain_image  # the window's sums and the whole gain are done with: the scores hold their rows
        noise = iter(noise_after(paths.of("half", stack), sum_path, fixes) if fixes else [])
        return [(radius, next(noise) if value is None else value) for radius, value in points]

    # numpy, the FFTs and decompression release the GIL: samples in parallel on the job's threads.
    samples = list(dict.fromkeys(picks))
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        curves = dict(zip(samples, pool.map(curve, samples), strict=True))
    baseline = float(np.mean([session.koma[s]["correlated_noise_before"] for s in usable]))
    return curves, baseline


def _measured_window(
    record: dict, koma: KomaSettings, gained: bool, flags: bool
) -> tuple[dict[str, float], float] | None:
    """The window a stack's KOMA step used (each used stack's place) and the noise it measured after it,
    when that step corrected as the curve does (the same form, denoising, outlier fill, and a gain or
    none); else None."""
    places = record.get("window_places")
    if (
        not places
        or record.get("form") != koma.form
        or record.get("denoised") != koma.denoise
        or record.get("outlier_filtered") != flags
        or (record.get("gain", "none") != "none") != gained
    ):
        return None
    return {stack: float(place) for stack, place in places.items()}, float(record["correlated_noise_after"])
