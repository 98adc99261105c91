"""Reruns do what README says (issue #19): the gain's orientation, a changed setting, README's rerun lines.

One simulated session of 9 stacks with its vendor gain, KOMA radius 2. It starts with the gain
configured 90 degrees off (the run stops and names the right orientation), is corrected (every
step that uses the gain reruns), then README's "Rerunning" block is run line by line, as written.
"""

from __future__ import annotations

import re

import pytest

from mrczflow.koma.settings import KomaSettings
from mrczflow.koma.windows import window
from mrczflow.simulate import DetectorConfig, SessionConfig, simulate

from .workflow_helpers import REPO, configure, jobs_run, session_with_vendor_gain, snakemake

pytestmark = pytest.mark.slow
STACKS = 9
RADIUS = 2
EDITED = 1  # the stack README's one-stack lines are run on


def readme_rerun_lines() -> list[list[str]]:
    """The commands of README's "Rerunning" block, each as its words (comments dropped)."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("### Rerunning") :]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = [line.split("#")[0].strip() for line in block.splitlines()]
    return [command.split() for command in commands if command]


def windows_holding(stack: int, radius: int) -> int:
    """KOMA jobs whose inputs hold ``stack``: each window with its spares (the config's default)."""
    spare = KomaSettings().spare
    return sum(lo <= stack < hi for lo, hi in (window(i, STACKS, radius, spare) for i in range(STACKS)))


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    simulate(
        out,
        SessionConfig(n_stacks=STACKS, n_frames=16, seed=4),
        DetectorConfig(shape=(192, 192)),
        references=True,
    )
    return out


def test_gain_orientation_then_readme_rerun_lines(tmp_path, raw):
    dest = session_with_vendor_gain(tmp_path, raw, range(STACKS), radius=RADIUS)

    # The gain configured 90 degrees off: the first stack through the outlier filter stops the run.
    configure(dest, gain={"rotate": 90})
    wrong = snakemake(dest, "--cores", "2")
    assert wrong.returncode != 0
    logs = [path.read_text() for path in (dest / "logs" / "outliers").glob("*.log")]
    failed = [log for log in logs if "error:" in log]
    assert failed, logs
    for log in failed:
        assert "gain orientation (rotate 90, flip none) is wrong: rotate 0, flip none flattens" in log
        assert "set gain.rotate/gain.flip to rotate 0, flip none" in log
    assert not list((dest / "results" / "koma").glob("stack_*.json"))  # nothing after the check ran
    archives = {path.name: path.read_bytes() for path in (dest / "results" / "mrcz").glob("*.mrcz")}
    assert archives

    # Corrected: everything that reads the gain's orientation reruns (no --forceall needed). That
    # includes ingest (it needs the gain for vendor-normalised float movies), which compares each
    # movie with its archive and keeps the archive: the wrong orientation never touched one.
    configure(dest, gain={"rotate": 0})
    fixed = snakemake(dest, "--cores", "2")
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    ran = jobs_run(fixed)
    assert ran["outliers"] == ran["koma"] == STACKS  # rule outliers writes the KOMA sums too
    assert "koma_sum" not in ran
    assert ran["ingest"] == STACKS
    for name, content in archives.items():
        assert (dest / "results" / "mrcz" / name).read_bytes() == content
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert f"rotate 0, flip none confirmed on {STACKS} of {STACKS} stacks" in summary
    assert (dest / "results" / "report" / "front_page.html").read_text() in summary

    # README's lines, as written, with <stack> filled in.
    stack = f"stack_{EDITED:04d}"
    expected = [
        {"all": 1, "outliers": STACKS, "koma": STACKS, "session_report": 1},
        {"outliers": 1},
        # The same mask again (the filter is deterministic): only the report, whose input (the job's
        # statistics, with its seconds) changed.
        {"all": 1, "session_report": 1},
        {"ingest": 1},
    ]
    lines = readme_rerun_lines()
    assert len(lines) == len(expected), lines
    for words, jobs in zip(lines, expected, strict=True):
        assert words[0] == "snakemake"
        result = snakemake(dest, *[word.replace("<stack>", stack) for word in words[1:]])
        assert result.returncode == 0, (words, result.stderr[-3000:])
        assert jobs_run(result) == jobs, (words, jobs_run(result))

    assert snakemake(dest, "--cores", "2").returncode == 0  # the re-read movie's record is new: catch up

    # A changed setting reruns exactly the rules that read it.
    configure(dest, koma={"radius": 1})
    changed = snakemake(dest, "--cores", "2")
    assert jobs_run(changed) == {"all": 1, "koma": STACKS, "session_report": 1}

    # A mask that did change (and with it the stack's KOMA sum): KOMA of the windows holding it, the report.
    configure(dest, outliers={"false_alarm_rate": 1e-3})
    one = snakemake(dest, "--cores", "2", "-f", f"results/outliers/{stack}.json")
    assert jobs_run(one) == {"outliers": 1}
    caught_up = snakemake(dest, "--cores", "2", "--allowed-rules", "koma", "session_report", "all")
    assert jobs_run(caught_up) == {
        "all": 1,
        "koma": windows_holding(EDITED, 1),
        "session_report": 1,
    }
    assert 0 < windows_holding(EDITED, 1) < STACKS
