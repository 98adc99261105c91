"""Simulated datasets: a session of movies, a vacuum-reference series, a vendor gain reference.

Layout written by :func:`simulate`::

    OUT/movies/stack_0000.mrc (+ .mrc.mdoc)     integer counts, acquisition order
    OUT/movies_vendor/stack_0000.mrc            gain-normalised float32 (if asked)
    OUT/movies_tiff/stack_0000.tif              LZW TIFF counts (if asked)
    OUT/references/gain_vendor.mrc              vendor gain reference (float32)
    OUT/references/movies/flat_0.25.mrc (+mdoc) vacuum references, one per dose rate
    OUT/truth/session.npz, OUT/truth/references.npz   ground truth: no pipeline step reads it
    OUT/simulation.json                         the parameters used

Everything is deterministic from ``seed`` and generated frame by frame, so
memory stays at a few frame-sized arrays whatever the size (full K2 is
3838x3710). Each stack has its own random stream: changing the number of
stacks or formats does not change the stacks already there.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ..fileio import atomic_path
from .defects import DefectSchedule, StackDefects
from .detector import Detector, DetectorConfig, knob, spread_hot_pixels
from .outputs import FORMATS, MovieWriters, write_mdoc
from .specimen import crop, drift_path, render


@dataclasses.dataclass(frozen=True)
class SessionConfig:
    """What is recorded: how many movies, how, of what."""

    n_stacks: int = knob(24, "movies in the session, in acquisition order")
    n_frames: int = knob(20, "frames per movie")
    frame_time: float = knob(0.25, "seconds per frame")
    dose_rate: float = knob(4.0, "dose rate, e/physical px/s (the paper's session: 4)")
    dose_rate_jitter: float = knob(0.05, "relative spread of the dose rate from movie to movie")
    specimen: str = knob("particles", "specimen of every movie: particles or vacuum")
    carbon_stacks: tuple[int, ...] = knob((), "movies (indices) that show a carbon film edge")
    carbon_transmission: tuple[float, ...] = knob(
        (0.7,), "transmission of the film of each carbon stack, in order (cycled): 0.7 thick, 0.93 thin"
    )
    crystalline_stacks: tuple[int, ...] = knob((), "movies (indices) of crystalline ice")
    particle_radius: float = knob(12.0, "particle radius, px")
    drift_speed: float = knob(0.8, "initial specimen drift, px/frame (settles during the movie)")
    stack_interval: float = knob(60.0, "seconds between the starts of successive movies")
    start_time: str = knob("2026-11-24T09:00:00", "time stamp of the first movie (ISO 8601)")
    pixel_size: float = knob(1.06, "pixel size, Angstrom")
    voltage: float = knob(300.0, "acceleration voltage, kV")
    flat_dose_rates: tuple[float, ...] = knob(
        (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0), "dose rates of the vacuum references, e/px/s"
    )
    flat_frames: int = knob(40, "frames per vacuum reference")
    flat_dose_per_frame: float = knob(
        5.0, "e/px per frame of the vacuum references (frame time = this / dose rate)"
    )
    formats: tuple[str, ...] = knob(
        ("counts",), "movie formats: counts (integer MRC), vendor (float32 MRC), tiff"
    )
    count_dtype: str = knob("uint16", "integer type of count MRC/TIFF: uint8, uint16 or int16")
    seed: int = knob(1, "random seed: same seed, same data")

    def __post_init__(self) -> None:
        if self.specimen not in ("particles", "vacuum"):
            raise ValueError(f"--specimen must be particles or vacuum, got {self.specimen!r}")
        if self.count_dtype not in ("uint8", "uint16", "int16"):
            raise ValueError(f"--count-dtype must be uint8, uint16 or int16, got {self.count_dtype!r}")
        unknown = set(self.formats) - set(FORMATS)
        if unknown or not self.formats:
            raise ValueError(f"--formats must be a non-empty subset of {sorted(FORMATS)}, got {self.formats}")
        if min(self.n_stacks, self.n_frames, self.flat_frames) < 1:
            raise ValueError("--n-stacks, --n-frames and --flat-frames must be >= 1")
        if min(self.frame_time, self.dose_rate, self.flat_dose_per_frame, self.pixel_size) <= 0:
            raise ValueError("--frame-time, --dose-rate, --flat-dose-per-frame and --pixel-size must be > 0")


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, *stream])


class StackSimulation:
    """One movie: its truth and a generator of its count frames (uint16)."""

    def __init__(
        self,
        detector: Detector,
        defects: StackDefects,
        *,
        dose_rate: float,
        frame_time: float,
        n_frames: int,
        specimen: str,
        particle_radius: float,
        drift_speed: float,
        rng: np.random.Generator,
        session_fraction: float = 0.5,
        film_transmission: float = 0.7,
    ) -> None:
        self.detector = detector
        self.defects = defects
        self.dose_rate = dose_rate
        self.n_frames = n_frames
        self.specimen = specimen
        self.session_fraction = session_fraction
        self.rng = rng
        self.dose_per_frame = dose_rate * frame_time
        self.detected_per_frame = self.dose_per_frame * detector.coincidence(dose_rate)
        shape = detector.config.shape
        self.drift = drift_path(n_frames, drift_speed if specimen != "vacuum" else 0.0, rng)
        self.margin = int(np.ceil(np.abs(self.drift).max())) + 2
        self.canvas = render(
            specimen,
            shape,
            self.margin,
            rng,
            particle_radius=particle_radius,
            film_transmission=film_transmission,
        )
        alive = np.ones(shape[0] * shape[1], np.float32)
        alive[defects.dead_indices] = 0
        self.base = (
            detector.gain(dose_rate, session_fraction)
            * detector.line_factor
            * alive.reshape(shape)
            * np.float32(self.detected_per_frame)
        )
        config = detector.config
        self.additive = config.cmos_counts * detector.lines
        self.additive += spread_hot_pixels(shape, defects.hot_indices, defects.hot_rates)

    def frames(self) -> Iterator[np.ndarray]:
        shape = self.detector.config.shape
        for shift in self.drift:
            expected = self.base * crop(self.canvas, shape, self.margin, shift) + self.additive
            yield self.rng.poisson(np.clip(expected, 0, None)).astype(np.uint16)


def _write_movie(
    sim: StackSimulation,
    folder: Path,
    name: str,
    config: SessionConfig,
    when: dt.datetime,
    formats: tuple[str, ...],
) -> None:
    shape = sim.detector.config.shape
    writers = MovieWriters(
        folder,
        name,
        formats,
        shape,
        config.count_dtype,
        sim.detector.vendor_gain,
        config.pixel_size,
        config.voltage,
    )
    try:
        for frame in sim.frames():
            writers.write(frame)
    except BaseException:
        writers.abort()
        raise
    writers.close()
    mode = {"uint8": 0, "int16": 1, "uint16": 6}[config.count_dtype]
    for fmt, path in writers.paths.items():
        write_mdoc(
            path,
            shape=shape,
            pixel_size=config.pixel_size,
            voltage=config.voltage,
            dose_rate=sim.dose_rate,
            frame_time=sim.dose_per_frame / sim.dose_rate,
            n_frames=sim.n_frames,
            when=when,
            data_mode=2 if fmt == "vendor" else mode,
        )


def _truth_record(sims: list[StackSimulation], detector: Detector, extra: dict) -> dict[str, np.ndarray]:
    def ragged(arrays: list[np.ndarray], name: str) -> dict[str, np.ndarray]:
        return {
            name: np.concatenate(arrays) if arrays else np.empty(0),
            f"{name}_ptr": np.cumsum([0] + [a.size for a in arrays]),
        }

    config = detector.config
    meta = {
        "shape": list(config.shape),
        "gamma": config.gamma.as_dict(),
        "cmos_counts": config.cmos_counts,
        "coincidence_dose_rate": config.coincidence_dose_rate,
        "gain_drift": config.gain_drift,
        "vendor_gain_at": config.vendor_gain_at,
        **extra,
    }
    optional = {"drift_pattern": detector.drift_pattern} if config.gain_drift else {}
    if detector.coincidence_limits is not None:
        optional["coincidence_limits"] = detector.coincidence_limits
    return {
        "meta": np.array(json.dumps(meta)),
        "pixel_gain": detector.pixel_gain,
        "etching": detector.etching,
        "lines": detector.lines,
        "line_factor": detector.line_factor,
        "vendor_gain": detector.vendor_gain,
        "dose_rate": np.array([s.dose_rate for s in sims]),
        "dose_per_frame": np.array([s.dose_per_frame for s in sims]),
        "detected_per_frame": np.array([s.detected_per_frame for s in sims]),
        "n_frames": np.array([s.n_frames for s in sims]),
        "session_fraction": np.array([s.session_fraction for s in sims]),
        "specimen": np.array([s.specimen for s in sims]),
        "drift": np.array([s.drift for s in sims]) if sims else np.empty(0),
        **ragged([s.defects.hot_indices for s in sims], "hot_indices"),
        **ragged([s.defects.hot_rates for s in sims], "hot_rates"),
        **ragged([s.defects.dead_indices for s in sims], "dead_indices"),
        **optional,
    }


def _save_truth(path: Path, record: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez_compressed(handle, **record)


def simulate(
    out: Path,
    session: SessionConfig | None = None,
    detector_config: DetectorConfig | None = None,
    *,
    movies: bool = True,
    references: bool = True,
    progress=None,
) -> None:
    """Write a simulated session and/or its references under ``out`` (see module docstring)."""
    session = session or SessionConfig()
    detector_config = detector_config or DetectorConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    detector = Detector(detector_config, _rng(session.seed, 0))
    schedule = DefectSchedule(detector_config, _rng(session.seed, 1))
    if references:
        sims = []
        for index, rate in enumerate(session.flat_dose_rates):
            sim = StackSimulation(
                detector,
                schedule.next_stack(0.0),
                dose_rate=rate,
                frame_time=session.flat_dose_per_frame / rate,
                n_frames=session.flat_frames,
                specimen="vacuum",
                particle_radius=0,
                drift_speed=0,
                rng=_rng(session.seed, 2, index),
            )
            _write_movie(
                sim,
                out / "references",
                f"flat_{rate:g}",
                session,
                dt.datetime.fromisoformat(session.start_time),
                ("counts",),
            )
            sims.append(sim)
            if progress:
                progress(f"reference {rate:g} e/px/s")
        gain = out / "references" / "gain_vendor.mrc"
        from ..mrcz import write as write_mrc

        write_mrc(gain, detector.vendor_gain, compression=None, voxel_size=session.pixel_size)
        _save_truth(out / "truth" / "references.npz", _truth_record(sims, detector, {"kind": "references"}))
    if movies:
        schedule = DefectSchedule(detector_config, _rng(session.seed, 1))
        start = dt.datetime.fromisoformat(session.start_time)
        sims, cumulative = [], 0.0
        for index in range(session.n_stacks):
            rng = _rng(session.seed, 3, index)
            rate = session.dose_rate * max(0.05, 1 + session.dose_rate_jitter * rng.normal())
            kind, transmission = session.specimen, 0.7
            if index in session.carbon_stacks:
                kind = "carbon"
                film = session.carbon_stacks.index(index)
                transmission = session.carbon_transmission[film % len(session.carbon_transmission)]
            elif index in session.crystalline_stacks:
                kind = "crystalline"
            sim = StackSimulation(
                detector,
                schedule.next_stack(cumulative),
                dose_rate=rate,
                frame_time=session.frame_time,
                n_frames=session.n_frames,
                specimen=kind,
                particle_radius=session.particle_radius,
                drift_speed=session.drift_speed,
                rng=rng,
                session_fraction=index / max(1, session.n_stacks - 1),
                film_transmission=transmission,
            )
            when = start + dt.timedelta(seconds=index * session.stack_interval)
            _write_movie(sim, out, f"stack_{index:04d}", session, when, session.formats)
            cumulative += sim.dose_per_frame * sim.n_frames
            sims.append(sim)
            if progress:
                progress(f"movie {index + 1}/{session.n_stacks}")
        _save_truth(out / "truth" / "session.npz", _truth_record(sims, detector, {"kind": "session"}))
    params = {"session": dataclasses.asdict(session), "detector": dataclasses.asdict(detector_config)}
    with atomic_path(out / "simulation.json") as tmp:
        tmp.write_text(json.dumps(params, indent=2, default=str))
