"""``mrczflow watch``: run the workflow on a session while it is being recorded.

Each pass looks for movies (the config's ``movies`` glob), takes the ones that
are complete (:mod:`.arrivals`) into the ready list (:mod:`.ready`), and runs
Snakemake on them with the user's own ``--cores`` or ``--profile``:
``snakemake ... --config movies_ready=<list> live=True``. The workflow then
sees only complete movies, and KOMA gives the newest stacks trailing windows
(:func:`mrczflow.koma.windows.live_window`), so each pass does the new movies
and one revision per stack, whatever the session's size. The last pass
(``--idle-exit``, or ``--finish`` after a stop) runs with ``live=False``: every
stack gets its final window.

Nothing is kept only in memory that a restart would need: the ready list is on
disk, Snakemake's own records say what is done, and a movie that was being
watched settles again after a restart. Killing the watcher kills its Snakemake
(which marks unfinished outputs incomplete, and ``--rerun-incomplete`` redoes
them); a second watcher in the same folder is refused while the first, or its
Snakemake, still runs.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import glob
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from ..storage.names import session_movies
from ..storage.settings import IngestSettings
from .arrivals import Arrivals, sidecar_of, why_incomplete
from .ready import append_ready, read_ready

READY_LIST = "results/session/movies_ready.jsonl"
LOCK = ".snakemake/mrczflow-watch.lock"
LOG = "logs/watch/watch.log"


class WatchError(RuntimeError):
    """The watcher cannot start or go on (said in one line)."""


def _die_with_parent() -> None:
    """In the Snakemake child: get SIGTERM when the watcher dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def folder_lock(workdir: Path, say: Callable[[str], None] = print) -> Iterator[int]:
    """Hold the folder's watcher lock (its descriptor is handed to each Snakemake, which keeps it held).

    The lock file names the watcher holding it. Held by a watcher that is gone
    (killed), the holder is its Snakemake, which is stopping (it got SIGTERM
    when the watcher died): wait for it. Held by a live watcher: refuse.
    """
    path = workdir / LOCK
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            if not holder.isdigit() or _alive(int(holder)):
                raise WatchError(
                    f"{workdir}: another mrczflow watch (pid {holder or 'unknown'}) is running here; "
                    "stop it first, or wait for it to end"
                ) from None
            say(f"waiting for the Snakemake of a stopped watcher (pid {holder}) to end")
            fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.set_inheritable(fd, True)
        yield fd
    finally:
        os.close(fd)


class Watcher:
    """One session folder (a deployed workflow) and the movies arriving for it.

    Parameters
    ----------
    workdir
        The deployed workflow's folder (holding ``config/config.yaml``).
    engine
        What tells Snakemake where to run, as for ``snakemake`` itself:
        ``["--cores", "2"]`` or ``["--profile", "cluster"]``, plus any other options.
    settle
        Seconds a movie (and its sidecar) must stay unchanged before it is checked.
    say
        Where the watcher's one-line messages go.
    """

    def __init__(
        self,
        workdir: str | os.PathLike,
        engine: list[str],
        settle: float = 30.0,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        config_file = self.workdir / "config" / "config.yaml"
        if not config_file.is_file():
            raise WatchError(
                f"{self.workdir}: no config/config.yaml; run watch in a deployed workflow's folder"
            )
        config = yaml.safe_load(config_file.read_text()) or {}
        self.pattern = str(config.get("movies", ""))
        if self.pattern in ("", "demo"):
            raise WatchError("config 'movies' must be a glob of the session's movies to watch (not the demo)")
        self.settings = IngestSettings.from_config(config.get("ingest"))
        self.engine = list(engine)
        self.say = say
        self.clock = clock
        self.arrivals = Arrivals(settle)
        self.ready_file = self.workdir / READY_LIST
        self.ready = read_ready(self.ready_file)
        self._told: dict[str, str] = {}  # the last reason given for each movie still waiting
        self._child: subprocess.Popen | None = None

    def _path(self, movie: str) -> str:
        return movie if os.path.isabs(movie) else str(self.workdir / movie)

    def found(self) -> list[str]:
        """The movies the config's glob finds now, as the workflow's glob names them (relative to its folder)."""
        pattern = os.path.expanduser(self.pattern)
        if os.path.isabs(pattern):
            names = {path: path for path in glob.glob(pattern)}
        else:  # checked where they are, named as the workflow (running in its folder) names them
            names = {str(self.workdir / path): path for path in glob.glob(pattern, root_dir=self.workdir)}
        movies, _refused = session_movies(names)  # refused names: the workflow's run says why, once
        return [names[path] for path in movies.values()]

    def scan(self, final: bool = False) -> list[str]:
        """Take the movies complete now into the ready list; the movies taken.

        ``final``: the session is over, so a settled movie that is still not
        complete is taken as it is (its ingest then refuses it, naming the
        problem, and the report lists it) rather than waited for.
        """
        files = {name: self._path(name) for name in self.found() if name not in self.ready}
        seen = {name: (path, sidecar_of(path, self.settings)) for name, path in files.items()}
        taken = []
        for name in self.arrivals.observe(seen, self.clock()):
            problem = why_incomplete(files[name], self.settings)
            if problem is not None and not final:
                if self._told.get(name) != problem:
                    self.say(f"waiting: {name}: {problem}")
                    self._told[name] = problem
                continue
            if problem is not None:
                self.say(f"taken at the end as it is: {name}: {problem}")
            append_ready(self.ready_file, name, os.stat(files[name]).st_mtime, self.clock())
            self.ready.add(name)
            self._told.pop(name, None)
            self.arrivals.forget(name)
            taken.append(name)
        return taken

    def run_workflow(self, lock_fd: int, live: bool) -> int:
        """One Snakemake run over the movies taken so far; its exit code."""
        command = [
            "snakemake",
            *self.engine,
            "--config",
            f"movies_ready={self.ready_file}",
            f"live={live}",
            "--keep-going",
            "--rerun-incomplete",
        ]
        log = self.workdir / LOG
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as handle:
            handle.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(command)}\n")
            handle.flush()
            self._child = subprocess.Popen(
                command,
                cwd=self.workdir,
                stdout=handle,
                stderr=subprocess.STDOUT,
                pass_fds=(lock_fd,),
                preexec_fn=_die_with_parent,
            )
            try:
                return self._child.wait()
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: Snakemake marks what it was writing incomplete
                self.stop_child()
                raise
            finally:
                self._child = None

    def stop_child(self) -> None:
        """Ask the running Snakemake to stop (it marks unfinished outputs incomplete) and wait for it."""
        child = self._child
        if child is not None and child.poll() is None:
            child.send_signal(signal.SIGINT)
            try:
                child.wait(timeout=120)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def unlock(self) -> None:
        """Clear the lock a killed Snakemake left (only this watcher runs Snakemake here: it holds the folder lock)."""
        locks = self.workdir / ".snakemake" / "locks"
        if locks.is_dir() and any(locks.iterdir()):
            subprocess.run(["snakemake", "--unlock"], cwd=self.workdir, capture_output=True, check=False)

    def watch(self, interval: float = 15.0, idle_exit: float | None = None, finish: bool = False) -> int:
        """Watch until idle for ``idle_exit`` seconds (or stopped), then make every stack final.

        ``finish``: the session is over: take what has settled, run the last pass and return.
        Returns the exit code of the last Snakemake run (0 when every stack is done).
        """
        with folder_lock(self.workdir, self.say) as lock_fd:
            self.unlock()
            code = 0
            if self.ready and not finish:
                self.say(f"resuming: {len(self.ready)} movies taken before; finishing what they need")
                code = self.run_workflow(lock_fd, live=True)
            last_new = self.clock()
            while not finish:
                taken = self.scan()
                if taken:
                    last_new = self.clock()
                    self.say(
                        f"taken: {len(taken)} new movies ({len(self.ready)} in all); running the workflow"
                    )
                    code = self.run_workflow(lock_fd, live=True)
                    self.say(f"pass done (exit {code})")
                    continue  # movies that landed during the pass are looked at at once
                if idle_exit is not None and self.clock() - last_new >= idle_exit:
                    self.say(f"no new movie for {idle_exit:g} s: finishing the session")
                    break
                time.sleep(interval)
            # The end: every movie seen gets its settle time, then the final pass (full KOMA windows).
            deadline = self.clock() + self.arrivals.settle + interval
            while True:
                self.scan(final=True)
                if not self.arrivals.waiting() or self.clock() >= deadline:
                    break
                time.sleep(min(interval, 1.0))
            if not self.ready:
                raise WatchError(f"no complete movie matches {self.pattern!r}; nothing to finish")
            self.say(f"final pass over {len(self.ready)} movies")
            code = self.run_workflow(lock_fd, live=False)
            self.say(
                "session final"
                if code == 0
                else f"final pass ended with exit {code}: see {LOG} and the report"
            )
            return code


def main(
    workdir: str | os.PathLike,
    engine: list[str],
    settle: float,
    interval: float,
    idle_exit: float | None,
    finish: bool,
) -> int:
    """Run the watcher; Ctrl-C or SIGTERM stop it (and its Snakemake) without losing anything."""
    logging.getLogger("mdocfile").setLevel(logging.ERROR)  # it warns of field aliases at every sidecar read
    watcher = Watcher(workdir, engine, settle=settle, say=lambda line: print(line, flush=True))

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return watcher.watch(interval=interval, idle_exit=idle_exit, finish=finish)
    except KeyboardInterrupt:
        print(
            "stopped: nothing is lost; run `mrczflow watch` again to go on, or `--finish` to end",
            file=sys.stderr,
        )
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
