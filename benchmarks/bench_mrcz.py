"""MRCZ storage benchmark: ours against python-mrcz, mrcfile and numpy memcpy, in one run.

Synthetic i.i.d. Poisson uint8 stacks (default K2 size, 40 frames) at several
doses. For each library: compression ratio, % of the Poisson entropy-bound
ratio (from the stack's own histogram), write and read MB/s (of uint8 data,
page cache, median of ``--repeats``), and ours / python-mrcz. Also: reading
one frame against reading the whole stack.

Frames are compressed independently (one blosc chunk each), so a stack that
cycles through ``--distinct`` different Poisson frames compresses exactly as
one of all-different frames; it saves generating 570 M Poisson samples per dose.

    python benchmarks/bench_mrcz.py                   # full K2 size (about 3 minutes)
    python benchmarks/bench_mrcz.py --shape 8 512 512 # quick look
"""

from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

import click
import mrcfile
import mrcz as reference
import numpy as np

from mrczflow import mrcz
from mrczflow.storage.entropy import entropy_bound


def median_time(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def poisson_stack(dose: float, shape: tuple[int, int, int], distinct: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = rng.poisson(dose, (min(distinct, shape[0]), *shape[1:])).astype(np.uint8)
    return np.ascontiguousarray(np.resize(frames, shape))


def measure(stack: np.ndarray, folder: Path, repeats: int) -> dict[str, dict[str, float]]:
    megabytes = stack.nbytes / 1e6
    ours_path, ref_path, mrcfile_path = folder / "ours.mrcz", folder / "ref.mrcz", folder / "mrcfile.mrc"
    as_int8 = stack.view(np.int8)  # python-mrcz refuses uint8; same bytes
    results = {}

    def record(name, path, write, read):
        write_s = median_time(write, repeats)
        read_s = median_time(read, repeats)
        results[name] = {
            "ratio": stack.nbytes / path.stat().st_size,
            "write": megabytes / write_s,
            "read": megabytes / read_s,
        }

    record("ours", ours_path, lambda: mrcz.write(ours_path, stack), lambda: mrcz.read(ours_path))
    record(
        "python-mrcz",
        ref_path,
        lambda: reference.writeMRC(as_int8, str(ref_path), compressor="zstd", clevel=1),
        lambda: reference.readMRC(str(ref_path)),
    )

    def mrcfile_write():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "uint8 widened to uint16" is the point being measured
            with mrcfile.new(mrcfile_path, data=stack, overwrite=True):
                pass

    def mrcfile_read():
        with mrcfile.open(mrcfile_path) as m:
            return np.array(m.data)

    record("mrcfile", mrcfile_path, mrcfile_write, mrcfile_read)
    copy = np.empty_like(stack)
    memcpy_s = median_time(lambda: np.copyto(copy, stack), repeats)
    results["numpy memcpy"] = {"ratio": 1.0, "write": megabytes / memcpy_s, "read": megabytes / memcpy_s}
    assert np.array_equal(mrcz.read(ours_path), stack)
    return results


@click.command()
@click.option(
    "--shape", nargs=3, type=int, default=(40, 3838, 3710), show_default=True, help="frames rows cols"
)
@click.option("--doses", default="0.1,0.5,1,2,4", show_default=True, help="e/px/frame, comma-separated")
@click.option("--repeats", default=3, show_default=True)
@click.option("--distinct", default=8, show_default=True, help="different Poisson frames per stack")
def main(shape, doses, repeats, distinct) -> None:
    """Print storage ratios and speeds of ours vs python-mrcz vs mrcfile."""
    print(
        f"stack {shape[0]}x{shape[1]}x{shape[2]} uint8, zstd level 1; MB/s of uint8 data, page cache, "
        f"median of {repeats}"
    )
    print(
        f"{'dose':>5} {'library':>13} {'ratio':>7} {'%bound':>7} {'write MB/s':>11} {'read MB/s':>10} "
        f"{'write/ref':>10} {'read/ref':>9}"
    )
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        for dose in (float(d) for d in doses.split(",")):
            stack = poisson_stack(dose, tuple(shape), distinct, seed=int(dose * 1000))
            bound = entropy_bound(np.bincount(stack[:distinct].ravel(), minlength=256)).best_ratio
            results = measure(stack, folder, repeats)
            ref = results["python-mrcz"]
            for name, r in results.items():
                print(
                    f"{dose:5.1f} {name:>13} {r['ratio']:7.2f} {100 * r['ratio'] / bound:6.1f}% "
                    f"{r['write']:11.0f} {r['read']:10.0f} {r['write'] / ref['write']:10.2f} "
                    f"{r['read'] / ref['read']:9.2f}"
                )
        path = folder / "ours.mrcz"
        whole_s = median_time(lambda: mrcz.read(path), repeats * 2)
        one_s = median_time(lambda: mrcz.read(path, frames=shape[0] // 2), repeats * 5)
        print(
            f"single frame of {shape[0]} vs whole stack: {whole_s / one_s:.1f}x faster "
            f"({1e3 * one_s:.1f} ms vs {1e3 * whole_s:.0f} ms)"
        )


if __name__ == "__main__":
    main()
