"""A live session: K2-size movies land one a minute; how far behind the microscope is ``mrczflow watch``?

Writes N K2-size LZW TIFF movies with their .mdoc (as ``bench_session.py``)
into a source folder first. Then, in real time, a copier puts one into the
session's folder every ``60 / rate`` s, each copied slowly in pieces over
``--copy-seconds`` (its .mdoc after its last byte, as SerialEM and EPU
write it), while ``mrczflow watch --cores 2`` runs with its default settle
time and look interval and ``--idle-exit``.

Per movie it measures the time from its last byte to the moment its
archive, its outlier mask and its report entry (a row of
results/report/stacks.tsv) all exist: median and max (target <= 2 min at
1 movie a minute on 2 cores); and from the last movie's last byte to the
watcher's end, when every stack is final (target <= 5 min). Each is also
printed over the one-thread tifffile decode of one movie, measured in the
same run.

    python benchmarks/bench_live.py [--movies 5] [--rate 1] [--copy-seconds 20]
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import click
import numpy as np
from bench_scale import deploy  # benchmarks/ is on the path of a script run from it
from bench_session import decode_seconds, write_movies


def copy_slowly(source: Path, target: Path, seconds: float, pieces: int = 20) -> float:
    """Copy ``source`` to ``target`` in ``pieces`` over ``seconds``; the time of its last byte."""
    data = source.read_bytes()
    step = len(data) // pieces + 1
    with open(target, "wb") as handle:
        for start in range(0, len(data), step):
            handle.write(data[start : start + step])
            handle.flush()
            time.sleep(seconds / pieces)
    last_byte = time.time()
    shutil.copy(f"{source}.mdoc", f"{target}.mdoc")
    return last_byte


def arrivals(sources: list[Path], incoming: Path, interval: float, copy_seconds: float, done: dict) -> None:
    """One movie every ``interval`` s, copied slowly: ``done[stack] = time of its last byte``."""
    start = time.time()
    for i, source in enumerate(sources):
        time.sleep(max(0.0, start + i * interval - time.time()))
        done[source.stem] = copy_slowly(source, incoming / source.name, copy_seconds)


def ready_times(dest: Path, stacks: list[str], seen: dict, stop: threading.Event) -> None:
    """``seen[stack]``: when its archive, mask and report row first all existed (polled every 0.5 s)."""
    table = dest / "results" / "report" / "stacks.tsv"
    while not stop.is_set():
        reported = table.read_text() if table.is_file() else ""
        for stack in stacks:
            if stack in seen:
                continue
            archive = dest / "results" / "mrcz" / f"{stack}.mrcz"
            mask = dest / "results" / "outliers" / f"{stack}.mask.mrcz"
            if archive.is_file() and mask.is_file() and f"\n{stack}\t" in reported:
                seen[stack] = time.time()
        stop.wait(0.5)


@click.command()
@click.option("--movies", "n_movies", default=5, show_default=True)
@click.option("--rate", default=1.0, show_default=True, help="movies a minute")
@click.option("--copy-seconds", default=20.0, show_default=True, help="each movie is copied over this long")
@click.option("--frames", default=40, show_default=True)
@click.option("--shape", nargs=2, type=int, default=(3710, 3838), show_default=True, help="rows columns")
@click.option(
    "--idle-exit", default=90.0, show_default=True, help="the watcher ends the session after this idle"
)
@click.option("--keep", is_flag=True, help="keep the scratch folder")
def main(n_movies, rate, copy_seconds, frames, shape, idle_exit, keep) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="bench_live_", dir=".")).resolve()
    try:
        sources = write_movies(scratch / "source", n_movies, frames, tuple(shape))
        decode = decode_seconds(sources[:1])
        incoming = scratch / "incoming"
        incoming.mkdir()
        dest = deploy(scratch, incoming, "*.tif")
        stacks = [source.stem for source in sources]
        last_bytes: dict[str, float] = {}
        seen: dict[str, float] = {}
        stop = threading.Event()
        copier = threading.Thread(
            target=arrivals, args=(sources, incoming, 60 / rate, copy_seconds, last_bytes)
        )
        poller = threading.Thread(target=ready_times, args=(dest, stacks, seen, stop))
        watch = subprocess.Popen(
            ["mrczflow", "watch", "--cores", "2", "--idle-exit", str(idle_exit)],
            cwd=dest,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        copier.start()
        poller.start()
        output = watch.communicate()[0]
        ended = time.time()
        stop.set()
        copier.join()
        poller.join()
        if watch.returncode != 0:
            raise SystemExit(f"mrczflow watch failed:\n{output[-3000:]}")
        latency = np.array([seen[s] - last_bytes[s] for s in stacks if s in seen and s in last_bytes])
        final = ended - max(last_bytes.values())
        print(
            f"{n_movies} K2-size movies ({frames} x {shape[0]} x {shape[1]} LZW TIFF), {rate:g} a minute, "
            f"each copied over {copy_seconds:g} s; mrczflow watch --cores 2 (settle 30 s, look every 15 s), 2 cores"
        )
        print(f"one-thread tifffile decode of one movie (reference): {decode:.1f} s")
        for stack in stacks:
            if stack in seen:
                print(
                    f"  {stack}: {seen[stack] - last_bytes[stack]:6.1f} s from last byte to archive+mask+report"
                )
            else:
                print(f"  {stack}: never reported")
        print(
            f"latency: median {np.median(latency):.0f} s ({np.median(latency) / decode:.1f}x the decode), "
            f"max {latency.max():.0f} s ({latency.max() / decode:.1f}x) (target <= 120 s); "
            f"{len(latency)} of {n_movies} movies reported"
        )
        print(
            f"every stack final {final:.0f} s after the last movie's last byte ({final / decode:.1f}x the decode; "
            f"target <= 300 s; {idle_exit:g} s of it is the idle time before the watcher ends the session)"
        )
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
