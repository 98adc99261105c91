"""A live session in the report (``mrczflow watch``): movies so far, arrivals a minute, latency.

The watcher's ready list (:mod:`mrczflow.live.ready`) says when each movie's
last byte was written and when it was taken; the archive's modification time
says when it was stored. Latency is last byte to archive: what "a couple of
minutes behind the microscope" is measured by.
"""

from __future__ import annotations

import dataclasses
import datetime
import os

import numpy as np

from ..storage.names import stack_name

RECENT = 20  # movies the "now" figures look at


@dataclasses.dataclass
class LiveProgress:
    """Where a live session stands, from the watcher's ready list and the archives."""

    taken: int
    growing: bool  # still being recorded (the watcher's live passes), or made final
    last_taken: float | None  # epoch seconds
    arrivals_per_minute: float | None  # over the last RECENT movies
    latency: dict[str, float]  # stack -> seconds from its last byte to its archive


def live_progress(entries: list[dict], archive: str, growing: bool) -> LiveProgress:
    """``entries``: the ready list; ``archive``: the archive path template with ``{stack}``."""
    latency = {}
    for entry in entries:
        try:
            stack = stack_name(entry["movie"])
            stored = os.stat(archive.format(stack=stack)).st_mtime
        except (OSError, ValueError):  # not archived (yet, or refused)
            continue
        latency[stack] = max(0.0, stored - float(entry["last_byte"]))
    last_bytes = sorted(float(entry["last_byte"]) for entry in entries)[-RECENT:]
    rate = None
    if len(last_bytes) >= 2 and last_bytes[-1] > last_bytes[0]:
        rate = 60 * (len(last_bytes) - 1) / (last_bytes[-1] - last_bytes[0])
    last = max((float(entry["taken"]) for entry in entries), default=None)
    return LiveProgress(len(entries), growing, last, rate, latency)


def live_lines(progress: LiveProgress) -> list[str]:
    """The report's sentences about the live session."""
    state = "still being recorded" if progress.growing else "finished: every stack has its final KOMA window"
    sentence = f"Live session ({state}): {progress.taken} movies taken{' so far' if progress.growing else ''}"
    if progress.last_taken is not None:
        when = datetime.datetime.fromtimestamp(progress.last_taken).strftime("%Y-%m-%d %H:%M:%S")
        sentence += f", the last at {when}"
    lines = [sentence + "."]
    if progress.arrivals_per_minute:
        lines.append(
            f"The microscope's pace: {progress.arrivals_per_minute:.1f} movies a minute (the last {RECENT} movies)."
        )
    if progress.latency:
        values = list(progress.latency.values())
        recent = values[-RECENT:]
        lines.append(
            f"From a movie's last byte to its archive: median {np.median(values):.0f} s, longest "
            f"{max(values):.0f} s ({len(values)} movies; last {len(recent)}: median {np.median(recent):.0f} s)."
        )
    return lines
