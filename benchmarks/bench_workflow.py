"""The one-pass ingest (archive + stack sum) of one K2-size stack per input format, beside a plain copy.

Runs the same library calls as the workflow's rules (``mrczflow.steps``) on a
40x3838x3710 Poisson stack (1 e/px/frame) written as integer-count MRC
(uint16), LZW TIFF and vendor gain-normalised float32 MRC. Prints seconds per
stack, MB/s of input read, and the time of ``shutil.copyfile`` of the same
input file measured in the same run; and the peak memory of each step, from
which the cluster profile's ``mem_mb`` is set.

    python benchmarks/bench_workflow.py [--frames 40] [--shape 3838 3710]
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import tifffile

from mrczflow import mrcz
from mrczflow.storage.settings import DoseSettings, IngestSettings
from mrczflow.storage.steps import ingest


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@click.command()
@click.option("--frames", default=40, show_default=True)
@click.option("--shape", nargs=2, type=int, default=(3838, 3710), show_default=True)
@click.option("--dose", default=1.0, show_default=True, help="e/px/frame")
def main(frames: int, shape: tuple[int, int], dose: float) -> None:
    rng = np.random.default_rng(0)
    distinct = rng.poisson(dose, (4, *shape)).astype(np.uint16)
    gain = rng.uniform(0.9, 1.1, shape).astype(np.float32)
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        folder = Path(tmp)
        inputs = {
            "counts MRC (uint16)": folder / "counts.mrc",
            "LZW TIFF (uint16)": folder / "counts.tif",
            "vendor float32 MRC": folder / "vendor.mrc",
        }
        with (
            mrcz.MrczWriter(inputs["counts MRC (uint16)"], shape, np.uint16, compression=None) as counts,
            mrcz.MrczWriter(inputs["vendor float32 MRC"], shape, np.float32, compression=None) as vendor,
            tifffile.TiffWriter(inputs["LZW TIFF (uint16)"]) as tif,
        ):
            for index in range(frames):
                frame = distinct[index % 4]
                counts.write_frame(frame)
                vendor.write_frame(frame.astype(np.float32) * gain)
                tif.write(frame, compression="lzw", metadata=None)
        gain_path = folder / "gain.mrc"
        mrcz.write(gain_path, gain, compression=None)
        print(f"stack {frames}x{shape[0]}x{shape[1]}, {dose} e/px/frame; page cache; MB of the input file")
        print(
            f"{'input':>22} {'MB':>7} {'ingest s':>9} {'MB/s':>7} "
            f"{'copy s':>7} {'total/copy':>10} {'ratio':>6}"
        )
        for name, path in inputs.items():
            megabytes = path.stat().st_size / 1e6
            start = time.perf_counter()
            shutil.copyfile(path, folder / "copy.bin")
            copy_s = time.perf_counter() - start
            start = time.perf_counter()
            record = ingest(
                path,
                folder / "c.mrcz",
                folder / "c.json",
                stack="bench",
                settings=IngestSettings(dose=DoseSettings(source="config", dose_rate=4.0, frame_time=0.25)),
                summary_out=folder / "c.summary.json",
                sum_out=folder / "c.sum.mrcz",
                half_out=folder / "c.half.mrcz",
                gain_path=str(gain_path) if "float" in name else None,
            )
            total = time.perf_counter() - start
            ratio = record["source_bytes"] / (folder / "c.mrcz").stat().st_size
            print(
                f"{name:>22} {megabytes:7.0f} {total:9.2f} {megabytes / total:7.0f} "
                f"{copy_s:7.2f} {total / copy_s:10.1f} {ratio:6.2f}"
            )
        print(f"peak memory of this process: {peak_rss_mb():.0f} MB (includes the 4 generated frames)")


if __name__ == "__main__":
    main()
