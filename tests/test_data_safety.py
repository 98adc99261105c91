"""Data safety of the workflow (issue 13): hostile file names, missing sidecars, config checked before any
job, archives identical for identical input, strict JSON, and the CLI that never overwrites by surprise."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest
from click.testing import CliRunner

from mrczflow import mrcz
from mrczflow.cli import main
from mrczflow.simulate import DetectorConfig, SessionConfig, simulate
from mrczflow.storage.names import session_movies, stack_name

from .workflow_helpers import configure, deploy, snakemake

HOSTILE = {
    "a b": "a_b",
    "q'uote": "q_uote",
    'd"quote': "d_quote",
    "$(touch PWNED1)": "__touch_PWNED1_",
    "`touch PWNED2`": "_touch_PWNED2_",
    "x;touch PWNED3": "x_touch_PWNED3",
    "x&touch PWNED4&": "x_touch_PWNED4_",
    "x|touch PWNED5": "x_touch_PWNED5",
    "-lead": "_-lead",
    "ünï.1": "ünï.1",
}
REFUSED = {"<angle>": "Snakemake reads as wildcards", "br{a}ce": "Snakemake reads as wildcards"}


def test_stack_names_are_safe_and_odd_paths_are_refused_alone(tmp_path):
    for name, safe in HOSTILE.items():
        assert stack_name(f"/data/{name}.tif") == safe
    (tmp_path / "ok.mrc").write_bytes(b"x")
    (tmp_path / "o k.mrc").write_bytes(b"x")
    (tmp_path / "o_k.mrc").write_bytes(b"x")
    (tmp_path / "sub.mrc").mkdir()
    os.symlink(tmp_path / "gone.mrc", tmp_path / "dangling.mrc")
    os.mkfifo(tmp_path / "pipe.mrc")
    (tmp_path / "{x}.mrc").write_bytes(b"x")
    (tmp_path / "ok.mrc.mdoc").write_text("")
    movies, refused = session_movies(str(p) for p in tmp_path.iterdir())
    assert movies == {"ok": str(tmp_path / "ok.mrc"), "o_k": str(tmp_path / "o k.mrc")}
    reasons = {os.path.basename(path): reason for path, reason in refused.items()}
    assert set(reasons) == {"o_k.mrc", "sub.mrc", "dangling.mrc", "pipe.mrc", "{x}.mrc"}
    assert "already" in reasons["o_k.mrc"] and "dangling" in reasons["dangling.mrc"]
    assert "not a regular file" in reasons["pipe.mrc"] and "wildcards" in reasons["{x}.mrc"]


@pytest.fixture(scope="module")
def movie(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    simulate(
        out, SessionConfig(n_stacks=1, n_frames=4, seed=5), DetectorConfig(shape=(48, 64)), references=False
    )
    return out / "movies" / "stack_0000.mrc"


@pytest.mark.slow
def test_a_session_of_hostile_names_runs_no_command_and_completes(tmp_path, movie):
    incoming = tmp_path / "in"
    incoming.mkdir()
    for name in [*HOSTILE, *REFUSED]:
        shutil.copy(movie, incoming / f"{name}.mrc")
        shutil.copy(f"{movie}.mdoc", incoming / f"{name}.mrc.mdoc")
    (incoming / "late.mrc").write_bytes(movie.read_bytes())  # its .mdoc has not arrived yet
    os.symlink(incoming / "gone.mrc", incoming / "dangling.mrc")
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(incoming / "*.mrc"), gamma={"enabled": False})
    result = snakemake(dest, "--cores", "2", "--keep-going")
    output = result.stdout + result.stderr
    assert not list(tmp_path.rglob("PWNED*")) and not list(dest.rglob("PWNED*")), "a file name ran a command"
    for safe in HOSTILE.values():
        assert mrcz.MrczReader(dest / "results" / "mrcz" / f"{safe}.mrcz").verify_all()
        assert (dest / "results" / "koma" / f"{safe}.json").exists()
    for name, reason in REFUSED.items():
        assert f"refused: {incoming / name}.mrc: its path holds" in output and reason in output
    assert f"waiting: {incoming / 'late.mrc'}: its .mdoc or EPU .xml has not arrived" in output
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert f"{len(HOSTILE)} of {len(HOSTILE)} stacks processed; 0 failed" in summary
    assert "late.mrc was refused: waiting for its .mdoc" in summary and "dangling.mrc was refused" in summary
    assert "&lt;angle&gt;.mrc was refused" in summary
    # The sidecar arrives: the next run takes the movie, and only the windows that now reach it rerun.
    shutil.copy(f"{movie}.mdoc", incoming / "late.mrc.mdoc")
    again = snakemake(dest, "--cores", "2")
    assert again.returncode == 0, again.stderr[-3000:]
    assert mrcz.MrczReader(dest / "results" / "mrcz" / "late.mrcz").verify_all()


@pytest.mark.slow
def test_config_mistakes_stop_before_any_job_with_what_to_set(tmp_path, movie):
    incoming = tmp_path / "in"
    incoming.mkdir()
    for name in ("m1", "m2", "m3"):
        shutil.copy(movie, incoming / f"{name}.mrc")
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(incoming / "*.mrc"))
    cases = [
        ({"dose": {"source": "config", "dose_rate": None, "frame_time": None}}, "set ingest.dose.dose_rate"),
        (
            {"dose": {"source": "mdoc", "dose_rate": None, "frame_time": None}},
            "none of the 3 movies has a .mdoc",
        ),
        (  # the default: neither a SerialEM .mdoc nor an EPU .xml beside any movie
            {"dose": {"source": "auto", "dose_rate": None, "frame_time": None}},
            "none of the 3 movies has a .mdoc or EPU .xml beside it: set ingest.dose.source to config",
        ),
        (
            {"dose": {"source": "measured", "dose_rate": None, "frame_time": None}},
            "set ingest.dose.frame_time",
        ),
    ]
    for ingest, message in cases:
        configure(dest, ingest=ingest)
        result = snakemake(dest, "-n")
        assert result.returncode != 0 and message in result.stdout + result.stderr
    configure(dest, ingest={"dose": {"source": "config", "dose_rate": 4.0, "frame_time": 0.25}})
    configure(dest, gamma={"enabled": True})
    result = snakemake(dest, "-n")
    assert result.returncode != 0 and "no vacuum references" in result.stdout + result.stderr
    # The shipped defaults (gamma.enabled: auto) run a real session that has no references.
    configure(dest, gamma={"enabled": "auto"})
    assert snakemake(dest, "-n").returncode == 0


def test_the_same_input_gives_a_byte_identical_archive_and_strict_json(tmp_path, movie):
    from mrczflow.storage.settings import DoseSettings, IngestSettings
    from mrczflow.storage.steps import ingest

    digests = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        settings = IngestSettings(dose=DoseSettings(source="config", dose_rate=4.0, frame_time=0.25))
        ingest(
            movie,
            folder / "s.mrcz",
            folder / "r.json",
            stack="s",
            settings=settings,
            sum_out=folder / "t.mrcz",
        )
        digests.append(
            hashlib.sha256((folder / "s.mrcz").read_bytes() + (folder / "t.mrcz").read_bytes()).hexdigest()
        )
    assert digests[0] == digests[1]
    from mrczflow.jobs import write_json

    write_json(
        tmp_path / "x.json", {"t_hot": float("inf"), "t_dark": float("-inf"), "v": [float("nan"), 1.0]}
    )
    assert json.loads((tmp_path / "x.json").read_text(), parse_constant=pytest.fail) == {
        "t_dark": None,
        "t_hot": None,
        "v": [None, 1.0],
    }


def test_cli_names_outputs_by_replacing_the_extension_and_refuses_collisions(tmp_path, counts):
    for folder in ("a", "b", "out"):
        (tmp_path / folder).mkdir()
    for name in ("a/stack.mrc", "b/stack.mrc", "a/movie.1.mrc", "a/movie.2.mrc"):
        mrcz.write(tmp_path / name, counts, compression=None)
    run = CliRunner().invoke
    result = run(
        main,
        ["compress", *(str(tmp_path / n) for n in ("a/stack.mrc", "b/stack.mrc")), str(tmp_path / "out")],
    )
    assert result.exit_code != 0 and "would both be written to" in result.output
    assert list((tmp_path / "out").iterdir()) == []
    result = run(
        main,
        ["compress", str(tmp_path / "a/movie.1.mrc"), str(tmp_path / "a/movie.2.mrc"), str(tmp_path / "out")],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["movie.1.mrcz", "movie.2.mrcz"]
    result = run(main, ["compress", str(tmp_path / "a/movie.1.mrc"), str(tmp_path / "out")])
    assert result.exit_code != 0 and "exists (--force overwrites it)" in result.output
    result = run(main, ["compress", "--force", str(tmp_path / "a/movie.1.mrc"), str(tmp_path / "out")])
    assert result.exit_code == 0
    result = run(main, ["decompress", str(tmp_path / "out/movie.1.mrcz"), str(tmp_path / "out/movie.1.mrcz")])
    assert result.exit_code != 0 and "is an input" in result.output


def test_killed_and_terminated_writers_leave_no_part_files(tmp_path, counts):
    import signal
    import subprocess
    import sys
    import time

    from mrczflow.jobs import error_line

    stale = tmp_path / ".s.mrcz.part.mrcz"
    stale.write_bytes(b"left by a SIGKILLed job")
    mrcz.write(tmp_path / "s.mrcz", counts)
    assert not stale.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["s.mrcz"]
    script = (
        "import time, numpy as np\n"
        "from mrczflow.jobs import run_guarded\n"
        "from mrczflow.mrcz import MrczWriter\n"
        "def act():\n"
        f"    with MrczWriter({str(tmp_path / 'slow.mrcz')!r}, (8, 8), np.uint8) as w:\n"
        "        w.write_frame(np.zeros((8, 8), np.uint8)); print('writing', flush=True); time.sleep(30)\n"
        "run_guarded('slow', 'test', act)\n"
    )
    job = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert job.stdout.readline().strip() == "writing"
    job.send_signal(signal.SIGTERM)
    _, err = job.communicate(timeout=30)
    assert job.returncode == 1 and "error: slow: stopped by signal SIGTERM" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.mrcz"]
    log = tmp_path / "killed.log"
    log.write_text("mrczflow koma: s on node (SLURM job 7, pid 1)\nkoma s: 40%\n")
    assert error_line(log) is None and error_line(log, unfinished=True).startswith(
        "error: ended without a verdict"
    )
    del time
