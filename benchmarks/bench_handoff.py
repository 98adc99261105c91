"""Hand-off to RELION, MotionCor2/3 and cryoSPARC: what the exported movies cost and how flat our gain makes them.

For two detector models (the K2 default, and a second with twice the pixel
spread, weak etching, no CMOS lines and a noisy vendor gain made from 300
counts a pixel), simulates a session, hands the first
movies to the workflow (``snakemake --cores 2 relion motioncor cryosparc``,
gamma off, KOMA on) and keeps the last ones out. Then, in the same run:

- export: ``export_movie`` (write and read back every frame) over a plain
  decode of the same archive (``mrcz.read``), both in this process, and the
  TIFF's size over the archive's;
- flat field, on the held-out movies' sum (movies the gain never saw): the
  spread of 8x8 block means and the pixel-to-pixel spread
  (``mrczflow.handoff.session``) with no gain, the vendor gain, the
  handed-off session gain, and the oracle (the simulator's true response: the
  best any gain could do with these counts), each as a ratio to the oracle's;
- the three programs' gain files are the same image (no per-program flip).

    python benchmarks/bench_handoff.py [--stacks 28] [--held-out 4] [--frames 16] [--shape 256 256]
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import tifffile
import yaml
from bench_scale import deploy  # benchmarks/ is on the path of a script run from it

from mrczflow import mrcz
from mrczflow.handoff import export_movie
from mrczflow.handoff.session import block_spread, pixel_spread
from mrczflow.simulate import DetectorConfig, SessionConfig, simulate
from mrczflow.simulate.truth import Truth

MODELS = {
    "K2 (default)": {},
    "second model": {
        "pixel_sigma": 0.06,
        "etching_amplitude": 0.015,
        "etching_waves": 3,
        "cmos_counts": 0.0,
        "gain_reference_counts": 300.0,
    },
}


def run_model(name, knobs, stacks, held_out, frames, shape, work: Path) -> None:
    raw = work / "raw"
    simulate(
        raw, SessionConfig(n_stacks=stacks, n_frames=frames, seed=5), DetectorConfig(shape=shape, **knobs)
    )
    incoming = work / "incoming"
    incoming.mkdir()
    names = sorted(p.name for p in (raw / "movies").glob("stack_*.mrc"))
    for movie in names[: stacks - held_out]:
        for suffix in ("", ".mdoc"):
            shutil.copy(raw / "movies" / (movie + suffix), incoming / (movie + suffix))
    dest = deploy(work, incoming)
    config = yaml.safe_load((dest / "config" / "config.yaml").read_text())
    config["gain"]["reference"] = str(raw / "references" / "gain_vendor.mrc")
    config["gamma"]["enabled"] = False
    config["koma"]["radius"] = 3
    (dest / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        ["snakemake", "--cores", "2", "relion", "motioncor", "cryosparc"],
        cwd=dest,
        capture_output=True,
        text=True,
    )
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])

    handed = [Path(n).stem for n in names[: stacks - held_out]]
    decode, export = [], []
    for stack in handed:
        archive_path = dest / "results" / "mrcz" / f"{stack}.mrcz"
        started = time.perf_counter()
        mrcz.read(archive_path)
        decode.append(time.perf_counter() - started)
        started = time.perf_counter()
        export_movie(archive_path, work / "again.tif")
        export.append(time.perf_counter() - started)
    tiff = sum((dest / "results" / "handoff" / "movies" / f"{s}.tif").stat().st_size for s in handed)
    archive = sum((dest / "results" / "mrcz" / f"{s}.mrcz").stat().st_size for s in handed)

    truth = Truth(raw / "truth" / "session.npz")
    held = [mrcz.read(raw / "movies" / n).sum(axis=0, dtype=np.float64) for n in names[stacks - held_out :]]
    total = np.sum(held, axis=0)
    rate = float(np.median(truth.dose_rate[stacks - held_out :]))
    gains = {
        p: tifffile.imread(dest / "results" / "handoff" / p / "gain.tif")
        for p in ("relion", "motioncor", "cryosparc")
    }
    same = all(np.array_equal(gains["relion"], g) for g in gains.values())
    candidates = {
        "no gain": total,
        "vendor gain": total * mrcz.read(raw / "references" / "gain_vendor.mrc"),
        "hand-off session gain": total * gains["relion"],
        "oracle (true response)": total / truth.gain(rate),
    }
    oracle = candidates["oracle (true response)"]
    print(f"\n{name}: {stacks - held_out} movies handed off, {held_out} held out, {frames} frames of {shape}")
    print(
        f"  export / decode of the archive (median per movie): {np.median(export) / np.median(decode):.1f}x"
    )
    print(f"  exported TIFF / archive bytes: {tiff / archive:.3f}")
    print(f"  gain files identical for RELION, MotionCor, cryoSPARC: {same}")
    note = [
        line for line in (dest / "results" / "handoff" / "relion" / "commands.txt").read_text().splitlines()
    ]
    print("  " + next((line for line in note if line.startswith("# The gain:")), "# The gain: (none)"))
    print("  flat field of the held-out sum, ratio to the oracle: 8x8 block spread, pixel spread")
    for label, image in candidates.items():
        print(
            f"    {label:24s} {block_spread(image) / block_spread(oracle):6.2f}"
            f" {pixel_spread(image) / pixel_spread(oracle):6.2f}"
        )


@click.command()
@click.option("--stacks", default=28, show_default=True)
@click.option("--held-out", default=4, show_default=True)
@click.option("--frames", default=16, show_default=True)
@click.option("--shape", nargs=2, type=int, default=(256, 256), show_default=True)
def main(stacks, held_out, frames, shape) -> None:
    for name, knobs in MODELS.items():
        with tempfile.TemporaryDirectory() as folder:
            run_model(name, knobs, stacks, held_out, frames, tuple(shape), Path(folder))


if __name__ == "__main__":
    main()
