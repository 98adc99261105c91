"""The steps of rules ``koma_sum``, ``koma_prefix`` and ``koma`` (see :mod:`.windows`).

``koma_sum``: the stack's sum after the outlier filter (filled values
rounded to whole counts, so the session's prefix sums stay exact) as int32
MRCZ, and its contrast, which decides whether it is kept out of windows.
Holds one stack (the fill of clustered outliers needs every frame).

``koma_prefix``: ``C[k+1] = C[k] + S[k]`` (or ``C[k]`` unchanged for an
excluded stack), with the running counts of stacks and frames and the
names of the excluded stacks in its metadata. Holds two frame-sized images.

``koma``: the stack's window term from ``C[lo]``, ``C[hi]`` and its own
sum, the correction (gain, then the denoised pattern), the normalised movie
and the correction as one gain reference; correlated noise before (gain
only) and after. Holds one stack.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .. import mrcz
from ..gain.reference import load_gain
from ..gain.settings import GainSettings
from ..jobs import progress, read_json, write_json
from ..outliers.fill import filtered_frames
from .correction import Correction, correction
from .noise import CorrelationAccumulator
from .screen import contrast
from .settings import KomaSettings
from .windows import add_to_prefix, window_sum

PREFIX_KEYS = ("stacks", "included", "frames", "excluded")


def score_rows(n_rows: int) -> slice:
    """Rows on which correlated noise is scored: every ``n_rows // 1024``-th (all of a small frame).

    Still millions of pixels on a K2 frame (the estimate's spread is ~1e-5
    after averaging frame pairs), at a third of the cost, which otherwise
    dominates the step.
    """
    return slice(None, None, max(1, n_rows // 1024))


def _stack_frames(counts_path: str | os.PathLike, flags_path: str | os.PathLike | None):
    """The stack (uint8 counts) and an iterator over its frames as float32, outliers filled when flags are given."""
    stack = mrcz.read(counts_path)
    if flags_path is None:
        return stack, (frame.astype(np.float32) for frame in stack)
    flags = mrcz.read(flags_path)
    if flags.shape != stack.shape[1:]:
        raise ValueError(f"{flags_path}: outlier flags are {flags.shape}, frames are {stack.shape[1:]}")
    return stack, filtered_frames(stack, flags)


def _gain(
    path: str | os.PathLike | None, shape: tuple[int, int], orientation: GainSettings | None
) -> np.ndarray | None:
    """The gain applied before KOMA, oriented by ``orientation`` (None: the file is already oriented)."""
    orientation = orientation or GainSettings()
    return None if path is None else load_gain(path, shape, orientation.rotate, orientation.flip)


def koma_sum(
    counts_path: str | os.PathLike,
    sum_out: str | os.PathLike,
    info_out: str | os.PathLike,
    *,
    stack: str,
    flags_path: str | os.PathLike | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    settings: KomaSettings | None = None,
    record_path: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Filtered sum (int32 MRCZ) and contrast screen of one stack."""
    settings = settings or KomaSettings()
    threshold = settings.high_contrast
    stack_name = stack
    movie, frames = _stack_frames(counts_path, flags_path)
    total = np.zeros(movie.shape[1:], np.float64)
    for frame in frames:
        total += frame
    total = np.rint(total).astype(np.int32)
    value = contrast(total, _gain(gain_path, total.shape, gain))
    info: dict[str, Any] = {
        "stack": stack_name,
        "frames": int(movie.shape[0]),
        "contrast": value,
        "threshold": threshold,
        "high_contrast": bool(value > threshold),
        "outlier_filtered": flags_path is not None,
    }
    if record_path:
        record = read_json(record_path)
        info.update({k: record.get(k) for k in ("timestamp", "dose_rate", "dose_per_frame")})
    mrcz.write(sum_out, total, metadata={"koma_sum": info})
    write_json(info_out, info)
    return info


def _prefix_state(path: str | os.PathLike | None, shape: tuple[int, int]) -> tuple[np.ndarray | None, dict]:
    if path is None:
        return None, {"stacks": 0, "included": 0, "frames": 0, "excluded": []}
    with mrcz.MrczReader(path) as reader:
        state = reader.metadata.get("koma_prefix")
        image = reader.read()
    if not state or any(key not in state for key in PREFIX_KEYS):
        raise ValueError(
            f"{os.fspath(path)}: not a KOMA prefix file (no koma_prefix metadata); rerun koma_prefix"
        )
    if image.shape != shape:
        raise ValueError(f"{os.fspath(path)}: prefix is {image.shape}, the stack sum is {shape}")
    return image, state


def koma_prefix(
    previous_path: str | os.PathLike | None,
    sum_path: str | os.PathLike,
    info_path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    stack: str,
    settings: KomaSettings | None = None,
) -> dict[str, Any]:
    """One link of the prefix chain; the stack is left out when the screen or ``koma.exclude`` says so."""
    settings = settings or KomaSettings()
    stack_name = stack
    decision = settings.decision(stack)
    info = read_json(info_path)
    total = mrcz.read(sum_path)
    previous, state = _prefix_state(previous_path, total.shape)
    included = not info["high_contrast"] if decision == "auto" else decision == "include"
    state = dict(state, stacks=state["stacks"] + 1, excluded=list(state["excluded"]))
    if included:
        prefix = add_to_prefix(previous, total)
        state["included"] += 1
        state["frames"] += int(info["frames"])
    else:
        prefix = previous if previous is not None else np.zeros(total.shape, np.int32)
        state["excluded"].append({"stack": stack_name, "contrast": info["contrast"], "decision": decision})
    mrcz.write(out, prefix, metadata={"koma_prefix": state})
    return state


def window_correction(
    sum_path: str | os.PathLike,
    prefix_lo_path: str | os.PathLike | None,
    prefix_hi_path: str | os.PathLike,
    stack_name: str,
    window_stacks: list[str],
    *,
    gain: np.ndarray | None = None,
    form: str = "divide",
    denoise: bool = True,
) -> tuple[Correction, dict[str, Any]]:
    """The correction of one stack from its sum and the prefixes around its window."""
    with mrcz.MrczReader(sum_path) as reader:
        own = reader.read()
        own_frames = int(reader.metadata["koma_sum"]["frames"])
    lo, lo_state = _prefix_state(prefix_lo_path, own.shape)
    hi, hi_state = _prefix_state(prefix_hi_path, own.shape)
    excluded = {entry["stack"] for entry in hi_state["excluded"]} - {
        entry["stack"] for entry in lo_state["excluded"]
    }
    if hi_state["stacks"] - lo_state["stacks"] != len(window_stacks) or stack_name not in window_stacks:
        raise ValueError(
            f"{os.fspath(prefix_hi_path)}: prefixes span {hi_state['stacks'] - lo_state['stacks']} stacks, "
            f"the window of {stack_name} has {len(window_stacks)}: rerun koma_prefix"
        )
    own_included = stack_name not in excluded
    n_stacks = hi_state["included"] - lo_state["included"] - own_included
    n_frames = hi_state["frames"] - lo_state["frames"] - own_frames * own_included
    window_total = window_sum(lo, hi, own if own_included else None)
    fix = correction(window_total, n_stacks, n_frames, gain, form=form, denoise=denoise)
    info = {
        "window_stacks_used": n_stacks,
        "excluded_in_window": sorted(excluded - {stack_name}),
        "high_contrast": not own_included,
    }
    return fix, info


def noise_after(
    counts_path: str | os.PathLike,
    fix: Correction,
    flags_path: str | os.PathLike | None = None,
) -> float:
    """Correlated noise of one stack after ``fix`` (for the report's radius curve). Holds one stack."""
    _, frames = _stack_frames(counts_path, flags_path)
    after = CorrelationAccumulator()
    for frame in frames:
        after.add(fix.apply(frame)[score_rows(frame.shape[0])])
    return after.value


def koma(
    counts_path: str | os.PathLike,
    sum_path: str | os.PathLike,
    prefix_lo_path: str | os.PathLike | None,
    prefix_hi_path: str | os.PathLike,
    gain_out: str | os.PathLike,
    stats_out: str | os.PathLike,
    *,
    stack: str,
    window_stacks: list[str],
    radius: int,
    flags_path: str | os.PathLike | None = None,
    gain_path: str | os.PathLike | None = None,
    gain: GainSettings | None = None,
    settings: KomaSettings | None = None,
    movie_out: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Normalise one stack with its KOMA term; write its gain reference, statistics and (optionally) the movie.

    ``radius`` is the one in force (the configured one clamped to the
    session's size); ``gain`` orients ``gain_path`` (None: already oriented,
    as the gamma gain is).
    """
    started = time.perf_counter()
    settings = settings or KomaSettings()
    stack_name = stack
    form, denoise = settings.form, settings.denoise
    movie_dtype, movie_compression = settings.movie_dtype, settings.movie_compression
    fix, window_info = window_correction(
        sum_path,
        prefix_lo_path,
        prefix_hi_path,
        stack_name,
        window_stacks,
        form=form,
        denoise=denoise,
        gain=_gain(gain_path, mrcz.read_header(sum_path).shape[-2:], gain),
    )
    applied = fix.gain
    movie, frames = _stack_frames(counts_path, flags_path)
    before, after = CorrelationAccumulator(), CorrelationAccumulator()
    writer = None
    if movie_out is not None:
        compression = None if movie_compression == "none" else mrcz.Compression(codec=movie_compression)
        writer = mrcz.MrczWriter(movie_out, fix.pattern.shape, movie_dtype, compression=compression)
    try:
        with progress(movie.shape[0], f"koma {stack_name}") as bar:
            for raw, frame in zip(movie, frames, strict=True):
                rows = score_rows(raw.shape[0])
                before.add(raw[rows] if applied is None else raw[rows] * applied[rows])
                corrected = fix.apply(frame)
                after.add(corrected[rows])
                if writer is not None:
                    writer.write_frame(corrected.astype(movie_dtype))
                bar.update(1)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    if writer is not None:
        writer.close()
    mrcz.write(gain_out, fix.gain_reference(), compression=None)
    stats = {
        "stack": stack_name,
        "radius": radius,
        "window": window_stacks,
        **window_info,
        "form": form,
        "denoised": denoise,
        "pattern_power_kept": fix.kept,
        "gain": "none" if gain_path is None else os.fspath(gain_path),
        "outlier_filtered": flags_path is not None,
        "correlated_noise_before": before.value,
        "correlated_noise_after": after.value,
        "seconds": time.perf_counter() - started,
    }
    write_json(stats_out, stats)
    return stats
