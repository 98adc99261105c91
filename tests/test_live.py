"""Live sessions (issue 21): which movies are complete, the ready list, trailing KOMA windows, the watcher's scan."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrczflow import mrcz
from mrczflow.koma.windows import live_window, window
from mrczflow.live import Arrivals, Watcher, append_ready, read_entries, read_ready, why_incomplete
from mrczflow.storage.settings import IngestSettings

from .workflow_helpers import deploy

MDOC = "PixelSpacing = 1.06\nVoltage = 300\n\n[FrameSet = 0]\nExposureDose = 4\nNumSubFrames = {frames}\n"


def write_movie(path: Path, frames: int = 6, seed: int = 0) -> bytes:
    """A small uint8 MRC movie at ``path`` and its .mdoc; the movie's bytes."""
    counts = np.random.default_rng(seed).poisson(1.0, (frames, 32, 32)).astype(np.uint8)
    mrcz.write(path, counts, compression=None)
    Path(f"{path}.mdoc").write_text(MDOC.format(frames=frames))
    return path.read_bytes()


# Trailing windows: what a growing session gives each stack


@given(radius=st.integers(1, 6), spare=st.integers(0, 3), n=st.integers(3, 60), data=st.data())
def test_live_window_holds_its_stack_and_at_least_two_others(radius, spare, n, data):
    index = data.draw(st.integers(0, n - 1))
    lo, hi = live_window(index, n, radius, spare)
    assert 3 <= hi - lo <= 2 * (radius + spare) + 1 and lo <= index < hi and lo >= 0 and hi <= n


@given(radius=st.integers(1, 6), spare=st.integers(0, 3), index=st.integers(0, 80))
def test_live_window_changes_once_as_the_session_grows_and_ends_as_the_final_window(radius, spare, index):
    """Each stack gets KOMA on arrival and once more, not at every arrival (the first stacks too: the
    radius is never clamped to the session so far); then its window is the offline one (spares too)."""
    size = 2 * (radius + spare) + 1
    first = max(index + 1, 3)
    seen = [live_window(index, n, radius, spare) for n in range(first, first + 3 * size)]
    changes = sum(a != b for a, b in zip(seen, seen[1:], strict=False))
    assert changes <= 1
    long_session = index + radius + spare + 1 + size
    assert seen[-1] == window(index, long_session, radius, spare)


def test_live_window_trails_at_the_end_and_is_final_inside():
    assert live_window(9, 10, 2) == (5, 10)  # trailing: the newest stack and the four before it
    assert live_window(7, 10, 2) == (5, 10)  # its final window exists: stacks 5-9
    assert live_window(8, 10, 2) == (4, 9)  # not yet (needs stack 10): trailing, until it lands
    assert live_window(8, 11, 2) == (6, 11)
    assert live_window(1, 3, 12) == (0, 3) and live_window(6, 8, 12) == (0, 7)  # the session's start


# Settled and complete


def test_arrivals_take_a_movie_only_once_it_and_its_sidecar_stay_unchanged(tmp_path):
    movie, side = tmp_path / "a.mrc", tmp_path / "a.mrc.mdoc"
    movie.write_bytes(b"x" * 10)
    arrivals = Arrivals(settle=30)
    seen = {"a.mrc": (str(movie), None)}
    assert arrivals.observe(seen, now=0) == []
    assert arrivals.observe(seen, now=29) == []
    movie.write_bytes(b"x" * 20)  # still being written: its settle time starts again
    assert arrivals.observe(seen, now=31) == []
    assert arrivals.observe(seen, now=60) == []
    assert arrivals.observe(seen, now=61) == ["a.mrc"]
    side.write_text("NumSubFrames = 6\n")  # the sidecar arrives: a new look
    seen = {"a.mrc": (str(movie), str(side))}
    assert arrivals.observe(seen, now=62) == []
    assert arrivals.observe(seen, now=92) == ["a.mrc"]
    movie.unlink()  # moved away: forgotten, no error
    assert arrivals.observe(seen, now=200) == [] and arrivals.waiting() == 0


def test_a_movie_is_complete_only_whole_and_with_the_frames_its_metadata_says(tmp_path):
    settings = IngestSettings()
    movie = tmp_path / "m.mrc"
    whole = write_movie(movie, frames=6)
    assert why_incomplete(str(movie), settings) is None
    movie.write_bytes(whole[: len(whole) // 2])  # half-written
    assert "not readable as a whole movie" in why_incomplete(str(movie), settings)
    movie.write_bytes(whole)
    Path(f"{movie}.mdoc").write_text(MDOC.format(frames=8))  # metadata of a longer movie
    assert why_incomplete(str(movie), settings) == "6 frames of the 8 its metadata says"
    Path(f"{movie}.mdoc").unlink()
    assert "sidecar" in why_incomplete(str(movie), settings)  # the dose comes from it: wait for it
    assert why_incomplete(str(movie), IngestSettings.from_config({"dose": {"source": "measured"}})) is None
    assert why_incomplete(
        str(movie), IngestSettings.from_config({"expected_frames": 7, "dose": {"source": "measured"}})
    )


# The ready list


@given(
    names=st.lists(st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s), min_size=1, max_size=5)
)
def test_ready_list_keeps_any_name_whole(tmp_path_factory, names):
    path = tmp_path_factory.mktemp("ready") / "ready.jsonl"
    for i, name in enumerate(names):
        append_ready(path, name, last_byte=float(i), taken=float(i) + 1)
    assert read_ready(path) == set(names)
    assert [entry["last_byte"] for entry in read_entries(path)] == [float(i) for i in range(len(names))]


def test_ready_list_ignores_a_line_a_kill_cut_short_and_goes_on_after_it(tmp_path):
    path = tmp_path / "ready.jsonl"
    append_ready(path, "a.mrc", 1.0, 2.0)
    with open(path, "a") as handle:
        handle.write('{"movie": "b.m')  # killed mid-write
    assert read_ready(path) == {"a.mrc"}
    append_ready(path, "c.mrc", 3.0, 4.0)
    assert read_ready(path) == {"a.mrc", "c.mrc"}
    assert read_ready(tmp_path / "none.jsonl") == set()


# The watcher's scan: a movie written in pieces is never taken early


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watcher_for(tmp_path: Path, settle: float = 10) -> tuple[Watcher, Path, Clock, list[str]]:
    dest = deploy(tmp_path / "wf")
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    config = dest / "config" / "config.yaml"
    config.write_text(config.read_text().replace("movies: demo", f"movies: {incoming}/*.mrc"))
    clock, said = Clock(), []
    return Watcher(dest, ["--cores", "1"], settle=settle, say=said.append, clock=clock), incoming, clock, said


def test_scan_takes_a_movie_written_in_pieces_only_when_it_is_whole(tmp_path):
    watcher, incoming, clock, said = watcher_for(tmp_path)
    source = tmp_path / "source.mrc"
    whole = write_movie(source, frames=6)
    movie = incoming / "FoilHole_1_Data_2_3_fractions.mrc"
    movie.write_bytes(whole[:1000])
    assert watcher.scan() == []
    clock.now += 5
    with open(movie, "ab") as handle:
        handle.write(whole[1000:3000])
    assert watcher.scan() == []
    clock.now += 60  # a stalled copy looks settled, but it is not a whole movie, and has no sidecar
    assert watcher.scan() == [] and said[-1].startswith(f"waiting: {movie}: its sidecar")
    Path(f"{movie}.mdoc").write_bytes(Path(f"{source}.mdoc").read_bytes())
    assert watcher.scan() == []  # the sidecar is new: settling again
    clock.now += 60
    assert watcher.scan() == [] and "not readable as a whole movie" in said[-1]
    with open(movie, "ab") as handle:
        handle.write(whole[3000:])
    assert watcher.scan() == []  # whole now, but not settled yet
    clock.now += 9
    assert watcher.scan() == []
    clock.now += 1
    assert watcher.scan() == [str(movie)]
    assert read_ready(watcher.ready_file) == {str(movie)} and watcher.scan() == []
    # A new watcher (a restart) reads what was taken and does not take it again.
    again = Watcher(watcher.workdir, ["--cores", "1"], settle=10, clock=clock)
    assert again.ready == {str(movie)} and again.scan() == []


def test_scan_at_the_end_takes_a_settled_incomplete_movie_so_its_ingest_names_the_problem(tmp_path):
    watcher, incoming, clock, said = watcher_for(tmp_path, settle=0)
    movie = incoming / "cut.mrc"
    whole = write_movie(movie, frames=6)
    movie.write_bytes(whole[:-100])
    watcher.scan()
    clock.now += 1
    assert watcher.scan() == []
    assert watcher.scan(final=True) == [str(movie)] and said[-1].startswith(
        f"taken at the end as it is: {movie}"
    )


def test_a_movie_being_copied_in_a_thread_is_taken_after_its_last_byte(tmp_path):
    """Real time: a copy in pieces over ~1 s; the movie is taken only after its last byte (and whole)."""
    watcher, incoming, _, _ = watcher_for(tmp_path, settle=0.5)
    watcher.clock = time.time
    source = tmp_path / "source.mrc"
    whole = write_movie(source, frames=6)
    movie = incoming / "copied.mrc"
    Path(f"{movie}.mdoc").write_bytes(Path(f"{source}.mdoc").read_bytes())
    finished = []

    def copy() -> None:
        with open(movie, "wb") as handle:
            for start in range(0, len(whole), 1024):
                handle.write(whole[start : start + 1024])
                handle.flush()
                time.sleep(0.05)
        finished.append(time.time())

    thread = threading.Thread(target=copy)
    thread.start()
    taken_at = None
    for _ in range(200):
        if watcher.scan():
            taken_at = time.time()
            break
        time.sleep(0.05)
    thread.join()
    # Taken only after its last byte plus the settle time (an order of events, not a duration bound).
    assert taken_at is not None and finished and taken_at >= os.stat(movie).st_mtime + 0.5
    assert os.path.getsize(movie) == len(whole)


def test_watch_refuses_the_demo_and_a_second_watcher(tmp_path):
    from mrczflow.live import WatchError
    from mrczflow.live.watch import folder_lock

    dest = deploy(tmp_path / "wf")
    with pytest.raises(WatchError, match="not the demo"):
        Watcher(dest, ["--cores", "1"])
    refused = pytest.raises(WatchError, match=f"another mrczflow watch \\(pid {os.getpid()}\\)")
    with folder_lock(dest), refused, folder_lock(dest):
        pass


# The watcher running the workflow: killed mid-pass and started again


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    from mrczflow.simulate import DetectorConfig, SessionConfig, simulate

    out = tmp_path_factory.mktemp("raw")
    simulate(
        out, SessionConfig(n_stacks=6, n_frames=8, seed=11), DetectorConfig(shape=(96, 96)), references=True
    )
    return out


def wait_for(condition, what: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_watch(dest: Path, *args: str):
    import subprocess

    log = open(dest / "watch.out", "a")  # noqa: SIM115 - the watcher's output, read after it ends
    return subprocess.Popen(
        ["mrczflow", "watch", "--cores", "2", "--settle", "0.5", "--interval", "0.3", *args],
        cwd=dest,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.slow
def test_watch_killed_mid_pass_loses_nothing_and_redoes_nothing_finished(tmp_path, raw):
    import signal

    from .workflow_helpers import session_with_vendor_gain

    dest = session_with_vendor_gain(tmp_path, raw, [], radius=1)  # no movie yet: they arrive below
    incoming = tmp_path / "incoming"

    def arrive(i: int, pieces: int = 1) -> None:
        source = raw / "movies" / f"stack_{i:04d}.mrc"
        data = source.read_bytes()
        target = incoming / source.name
        step = len(data) // pieces + 1
        for start in range(0, len(data), step):  # written in pieces, a second apart
            with open(target, "ab") as handle:
                handle.write(data[start : start + step])
            time.sleep(1.0 if pieces > 1 else 0)
        (incoming / f"{source.name}.mdoc").write_bytes(Path(f"{source}.mdoc").read_bytes())

    stacks = [f"stack_{i:04d}" for i in range(6)]
    summary = dest / "results" / "report" / "stacks.tsv"
    for i in range(4):
        arrive(i)
    watcher = start_watch(dest)
    wait_for(
        lambda: summary.is_file() and all(s in summary.read_text() for s in stacks[:4]), "the first pass"
    )
    done_before = {
        path: path.stat().st_mtime_ns
        for stack in stacks[:4]
        for path in (
            dest / "results" / "mrcz" / f"{stack}.mrcz",
            dest / "results" / "outliers" / f"{stack}.mask.mrcz",
            dest / "logs" / "ingest" / f"{stack}.log",
        )
    }
    arrive(4)
    arrive(5, pieces=3)  # the watcher looks meanwhile: a part of a movie is never taken
    log = dest / "logs" / "watch" / "watch.log"
    wait_for(
        lambda: log.read_text().count("=== ") >= 2 and "rule " in log.read_text().split("=== ")[-1], "pass 2"
    )
    watcher.send_signal(signal.SIGKILL)  # no chance to clean up: its Snakemake dies with it
    watcher.wait()

    again = start_watch(dest, "--idle-exit", "1")
    assert again.wait(timeout=900) == 0, (dest / "watch.out").read_text()[-3000:]
    for path, mtime in done_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path} was made again"
    from mrczflow.koma.windows import window
    from mrczflow.storage.index import read_index

    rows = [row for row in read_index(dest / "results" / "session" / "stacks.tsv") if row.get("stack")]
    assert [row["stack"] for row in rows] == stacks
    for i, stack in enumerate(stacks):
        assert mrcz.read(dest / "results" / "mrcz" / f"{stack}.mrcz").shape == (8, 96, 96)
        record = json.loads((dest / "results" / "koma" / f"{stack}.json").read_text())
        lo, hi = window(i, 6, 1, spare=2)  # the config's default spares
        assert record["window"] == stacks[lo:hi], "the final pass gives every stack its offline window"
    assert not list((dest / "results" / "mrcz").glob(".*")), "no partial archive is left"
    assert "error:" not in (dest / "logs" / "ingest" / "stack_0005.log").read_text()
    assert all(s in summary.read_text() for s in stacks)


def test_report_states_the_live_session_latency_and_pace(tmp_path):
    from mrczflow.report.live import live_lines, live_progress

    archive = tmp_path / "{stack}.mrcz"
    entries = []
    for i, latency in enumerate((30.0, 50.0, 70.0)):
        last_byte = 1_000_000.0 + 60 * i  # one a minute
        stored = tmp_path / f"m{i}.mrcz"
        stored.write_bytes(b"")
        os.utime(stored, (last_byte + latency, last_byte + latency))
        entries.append({"movie": f"/in/m{i}.tif", "last_byte": last_byte, "taken": last_byte + 5})
    entries.append({"movie": "/in/refused.tif", "last_byte": 1_000_200.0, "taken": 1_000_205.0})  # no archive
    progress = live_progress(entries, str(archive), growing=True)
    assert progress.taken == 4 and progress.latency == pytest.approx({"m0": 30, "m1": 50, "m2": 70})
    assert progress.arrivals_per_minute == pytest.approx(60 * 3 / 200)
    lines = live_lines(progress)
    assert lines[0].startswith("Live session (still being recorded): 4 movies taken so far")
    assert "median 50 s, longest 70 s (3 movies" in lines[2]


@given(
    n=st.integers(1, 60),
    radius=st.integers(1, 5),
    undone=st.sets(st.integers(0, 59), max_size=4),
    data=st.data(),
)
def test_a_live_pass_plans_every_stack_whose_window_can_change(n, radius, undone, data):
    """Planned: every stack not done, and every stack whose live window holds one; the rest are left alone."""
    from mrczflow.live.plan import stacks_to_plan

    stacks = [f"s{i:03d}" for i in range(n)]
    undone = {i for i in undone if i < n}
    reach = 2 * radius
    planned = set(stacks_to_plan(stacks, lambda s: int(s[1:]) not in undone, reach))
    assert {stacks[i] for i in undone} <= planned
    if n >= 3:
        for i in range(n):
            lo, hi = live_window(i, n, radius)
            if undone & set(range(lo, hi)):
                assert stacks[i] in planned
    assert len(planned) <= (len(undone) + 1) * (2 * reach + 1)  # bounded by the work, not the session


def test_a_relative_glob_names_movies_as_the_workflow_does_wherever_the_watcher_runs(tmp_path):
    dest = deploy(tmp_path / "wf")
    config = dest / "config" / "config.yaml"
    config.write_text(config.read_text().replace("movies: demo", "movies: incoming/*.mrc"))
    (dest / "incoming").mkdir()
    write_movie(dest / "incoming" / "a b.mrc")
    clock = Clock()
    watcher = Watcher(dest, ["--cores", "1"], settle=0, clock=clock)  # this process runs elsewhere
    assert Path.cwd() != dest and watcher.found() == ["incoming/a b.mrc"]
    watcher.scan()
    clock.now += 1
    assert watcher.scan() == ["incoming/a b.mrc"]
