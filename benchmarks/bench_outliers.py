"""Per-stack outlier filter, calibrated: scored against the simulator's truth, an oracle and the 6-sigma rule.

For two defect models (the paper's: log-uniform hot pixels; the graded one:
gamma-distributed faint-to-bright hot pixels, 2-3 px clusters, warm and cold
rows and columns) and doses 0.1, 0.25, 1, 4 and 8 e/px/frame (30 frames),
prints per dose (two stacks each, mrczflow.simulate.outlier_scores says which
pixels count):

- false alarms per clean pixel of the pixel test, hot and dead, over the
  configured rate (1.0 = as stated; below 1 where whole counts allow no
  closer), and line pixels flagged on clean pixels;
- hot recall over the oracle's at the same rate (the oracle knows every
  pixel's clean expectation: the best any detector can do), with the vendor
  gain reference (as the workflow runs when ``gain.reference`` is set) and
  without (``R/or 0``), and without over the oracle without a gain (which
  knows all but each pixel's own sensitivity, and their spread: ``R0/or0``);
- dead precision, and whether a dead call was possible at all;
- line recall (pixels of line defects of 20% or more); the same with a CMOS
  read-out reference (``R ro``: the simulated read-out pattern, as a
  reference of counts per frame gives it, config ``gamma.cmos_reference``);
  and the line oracle's (it knows where each defect lies and the read-out
  pattern, and tests each defect's pooled sum at the rate);
- the share of the outlier-attributable correlated noise (paper Eq. 7; no mask
  vs the true mask) that our mask removes;
- the 6-sigma rule beside it: its false alarms over the rate, its hot recall.

Then the time of detection + fill of a 50x4096x4096 uint8 stack beside a plain
numpy sum of the same stack, measured in the same run.

    python benchmarks/bench_outliers.py [--size 1024] [--speed/--no-speed]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
import numpy as np

from mrczflow import mrcz, outliers
from mrczflow.outliers.fill import fill_plan, fill_values
from mrczflow.simulate import DetectorConfig, SessionConfig, Truth, simulate
from mrczflow.simulate.outlier_scores import line_recall, readout_reference, score

DOSES = (0.1, 0.25, 1.0, 4.0, 8.0)  # e/px/frame
MODELS = {
    "paper": {},
    "graded": {"hot_rate_model": "graded", "hot_cluster_fraction": 0.3, "line_defects": 12},
}


def scores(size: int, model: dict, dose: float, seed: int = 1) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        simulate(
            Path(tmp),
            SessionConfig(
                n_stacks=2, n_frames=30, dose_rate=4 * dose, frame_time=0.25, dose_rate_jitter=0, seed=seed
            ),
            DetectorConfig(shape=(size, size), **model),
            references=False,
        )
        truth = Truth(Path(tmp) / "truth" / "session.npz")
        out = []
        for index in range(truth.n_stacks):
            stack = mrcz.read(Path(tmp) / "movies" / f"stack_{index:04d}.mrc")
            total = outliers.stack_sum(stack)
            with_gain = score(stack, truth, index, outliers.detect(total, gain=truth.vendor_gain))
            plain = score(stack, truth, index, outliers.detect(total))
            readout = readout_reference(truth, index)
            known = outliers.detect(total, gain=truth.vendor_gain, readout=readout)
            out.append(
                {
                    **with_gain,
                    **{f"{k}_no_gain": v for k, v in plain.items()},
                    "line_recall_readout": line_recall(truth, known),
                }
            )
        return out


def science(size: int) -> None:
    rate = outliers.OutlierSettings().false_alarm_rate
    print(
        f"outlier filter, {size}x{size} x 30 frames, 2 stacks per dose; false alarms over the rate {rate:g}"
    )
    header = (
        f"{'model':>6} {'e/px/fr':>7} {'FA hot':>7} {'FA dead':>7} {'FA line':>8} {'R/oracle':>8} {'R/or 0':>6} {'R':>6} "
        f"{'oracle':>6} {'R0/or0':>6} {'dead P':>6} {'dead?':>5} {'line R':>6} {'R ro':>6} {'or. R':>6} {'noise':>6}"
        f" {'6s FA':>8} {'6s R':>6}"
    )
    print(header)
    for name, model in MODELS.items():
        for dose in DOSES:
            rows = scores(size, model, dose)
            clean = sum(r["clean_pixels"] for r in rows)

            def pooled(key, rows=rows, clean=clean):
                return sum(r[key] * r["clean_pixels"] for r in rows) / clean

            def mean(key, rows=rows):
                return float(np.mean([r[key] for r in rows]))

            def nanmean(key, rows=rows):
                values = [r[key] for r in rows if r[key] == r[key]]
                return float(np.mean(values)) if values else float("nan")

            print(
                f"{name:>6} {dose:7g} {pooled('false_hot') / rate:7.2f} {pooled('false_dead') / rate:7.2f} "
                f"{pooled('false_line'):8.1e} {mean('hot_recall') / mean('oracle_hot_recall'):8.3f} "
                f"{mean('hot_recall_no_gain') / mean('oracle_hot_recall'):6.3f} "
                f"{mean('hot_recall'):6.3f} {mean('oracle_hot_recall'):6.3f} "
                f"{mean('hot_recall_no_gain') / mean('oracle_hot_recall_without_gain'):6.3f} "
                f"{mean('dead_precision'):6.3f} "
                f"{'yes' if mean('dead_callable') > 0 else 'no':>5} {nanmean('line_recall'):6.3f} "
                f"{nanmean('line_recall_readout'):6.3f} "
                f"{nanmean('oracle_line_recall'):6.3f} "
                f"{mean('noise_removed'):6.3f} {pooled('six_sigma_false') / rate:8.1f} {mean('six_sigma_hot_recall'):6.3f}"
            )


def speed() -> None:
    rng = np.random.default_rng(0)
    distinct = rng.poisson(1.0, (4, 4096, 4096)).astype(np.uint8)
    # 50 frames from 4 draws, each shifted by a random offset: the sum is Poisson as a real stack's
    # (cycling the same 4 frames unshifted would make it 12x overdispersed, which no detector sees).
    shifts = rng.integers(0, 4096, (50, 2))
    stack = np.stack([np.roll(distinct[i % 4], tuple(shifts[i]), axis=(0, 1)) for i in range(50)])
    hot = rng.choice(4096 * 4096, 8000, replace=False)
    for frame in stack:
        frame.reshape(-1)[hot] += 10

    def best_of(action, repeats=3):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            action()
            times.append(time.perf_counter() - start)
        return min(times)

    plain = best_of(lambda: stack.sum(axis=0))

    def filter_stack():
        detection = outliers.detect(outliers.stack_sum(stack))
        fill_values(stack, fill_plan(detection))

    ours = best_of(filter_stack)
    print(
        f"\n50x4096x4096 uint8 with 8000 hot pixels: numpy sum {plain:.2f} s, detection + fill {ours:.2f} s "
        f"= {ours / plain:.2f}x the sum"
    )


@click.command()
@click.option("--size", default=1024, show_default=True)
@click.option("--speed/--no-speed", "run_speed", default=True, show_default=True)
def main(size: int, run_speed: bool) -> None:
    science(size)
    if run_speed:
        speed()


if __name__ == "__main__":
    main()
