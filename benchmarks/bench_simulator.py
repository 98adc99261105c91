"""Does the simulator produce what it was asked for? Prints its statistics against its configuration.

- mean detected dose / nominal, per session kind
- hot pixels: count per stack against the configured growth
- correlated noise between frames (paper Eq. 7): raw, after the vendor gain,
  after the true gain + true outlier mask (the best any correction can do)
- gamma minimising paper Eq. 10 on each vacuum reference (brute force) against
  the configured gamma(delta), for several seeds

    python benchmarks/bench_simulator.py [--size 512] [--seeds 1,2,3]
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
import numpy as np
from scipy import ndimage

from mrczflow import mrcz
from mrczflow.koma.noise import correlated_noise
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate


def clean_mask(truth: Truth, index: int) -> np.ndarray:
    outliers, ambiguous = truth.outlier_masks(index)
    return ~(outliers | ambiguous | truth.dead_mask(index))


def session_table(folder: Path, specimen: str, size: int) -> None:
    config = DetectorConfig(shape=(size, size))
    simulate(folder, SessionConfig(n_stacks=6, specimen=specimen, seed=7), config, references=False)
    truth = Truth(folder / "truth" / "session.npz")
    print(f"\n{specimen} session, {size}x{size}, 20 frames at ~1 e/px/frame")
    print(
        f"{'stack':>5} {'hot':>5} {'dose/nominal':>12} {'R raw':>9} {'R vendor':>9} {'R true gain+mask':>17} {'raw/true':>8}"
    )
    rows = []
    for index in range(truth.n_stacks):
        stack = mrcz.read(folder / "movies" / f"stack_{index:04d}.mrc").astype(np.float32)
        s = truth.stack(index)
        clean = clean_mask(truth, index)
        dose = stack.mean(axis=0, dtype=np.float64)[clean].mean() / s.detected_per_frame
        raw = correlated_noise(stack)
        vendor = correlated_noise(stack * truth.vendor_gain)
        best = stack / truth.gain(s.dose_rate, s.session_fraction).astype(np.float32)
        best[:, ~clean] = s.detected_per_frame
        true_fix = correlated_noise(best)
        rows.append((raw, vendor, true_fix))
        print(
            f"{index:5d} {len(s.hot_indices):5d} {dose:12.4f} {raw:9.5f} {vendor:9.5f} {true_fix:17.5f} {raw / true_fix:8.1f}"
        )
    raw, vendor, true_fix = np.mean(rows, axis=0)
    print(f" mean {'':5s} {'':12s} {raw:9.5f} {vendor:9.5f} {true_fix:17.5f} {raw / true_fix:8.1f}")


def gamma_table(folder: Path, size: int, seeds: list[int]) -> None:
    print(f"\ngamma minimising Eq. 10 (brute force, step 0.002) on vacuum references, {size}x{size}")
    gammas = np.arange(0.5, 1.8, 0.002)
    rates = SessionConfig().flat_dose_rates
    print(f"{'seed':>4} " + " ".join(f"{r:>7g}" for r in rates) + "   max |error|")
    for seed in seeds:
        out = folder / f"refs{seed}"
        simulate(out, SessionConfig(seed=seed), DetectorConfig(shape=(size, size)), movies=False)
        truth = Truth(out / "truth" / "references.npz")
        gain = mrcz.read(out / "references" / "gain_vendor.mrc").astype(np.float64)
        errors = []
        for index, rate in enumerate(rates):
            flat = mrcz.read(out / "references" / "movies" / f"flat_{rate:g}.mrc").sum(
                axis=0, dtype=np.float64
            )
            flat = np.where(clean_mask(truth, index), flat, np.median(flat))
            best = gammas[int(np.argmin([ndimage.uniform_filter(flat * gain**g, 64).std() for g in gammas]))]
            errors.append(best - truth.gamma(rate))
        print(f"{seed:4d} " + " ".join(f"{e:+7.3f}" for e in errors) + f"   {np.abs(errors).max():.3f}")
    print("true " + " ".join(f"{truth.gamma(r):7.3f}" for r in rates))


@click.command()
@click.option("--size", default=512, show_default=True, help="frame size (square)")
@click.option("--seeds", default="1,2,3", show_default=True)
def main(size: int, seeds: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for specimen in ("vacuum", "particles"):
            session_table(Path(tmp) / specimen, specimen, size)
        gamma_table(Path(tmp), size, [int(s) for s in seeds.split(",")])


if __name__ == "__main__":
    main()
