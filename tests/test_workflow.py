"""The workflow end to end on tiny simulated sessions (issue 4)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import yaml

from mrczflow import mrcz
from mrczflow.simulate import DetectorConfig, SessionConfig, simulate
from mrczflow.storage.sums import read_stack_sum

from .workflow_helpers import REPO, arrive, configure, deploy, jobs_run, snakemake

pytestmark = pytest.mark.slow
NO_GAMMA = {"enabled": False}  # these sessions have no vacuum references
NO_KOMA = {"enabled": False}  # KOMA has its own tests (test_koma_workflow.py)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    """A tiny session in every input format."""
    out = tmp_path_factory.mktemp("raw")
    simulate(
        out,
        SessionConfig(n_stacks=4, n_frames=6, formats=("counts", "vendor", "tiff"), seed=4),
        DetectorConfig(shape=(64, 80)),
        references=True,
    )
    return out


def counts_of(raw, stack):
    return mrcz.read(raw / "movies" / f"{stack}.mrc")


def assert_outputs_are_the_counts(dest, raw, stacks):
    for stack in stacks:
        out = mrcz.read(dest / "results" / "mrcz" / f"{stack}.mrcz")
        expected = counts_of(raw, stack)
        assert out.dtype == np.uint8 and np.array_equal(out, expected)
        with mrcz.MrczReader(dest / "results" / "mrcz" / f"{stack}.mrcz") as reader:
            assert reader.verify_all() is True
            assert reader.metadata["movie"]["stack"] == stack


def test_counts_movies_then_nothing_to_do_then_new_stack_only(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    arrive(raw, inputs, range(3))
    configure(dest, gamma=NO_GAMMA, koma=NO_KOMA, movies=str(inputs / "*.mrc"))
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {"all": 1, "ingest": 3, "outliers": 3, "session_report": 1}
    assert_outputs_are_the_counts(dest, raw, [f"stack_{i:04d}" for i in range(3)])
    summary = json.loads((dest / "results" / "mrcz" / "stack_0001.json").read_text())
    assert 50 < summary["percent_of_entropy_bound"] <= 100 and summary["entropy_bound_ratio"] > 1
    record = json.loads((dest / "results" / "ingest" / "stack_0001.json").read_text())
    assert record["dose_source"].startswith("mdoc") and record["dose_rate"] == pytest.approx(4.0, rel=0.3)
    total, info = read_stack_sum(dest / "results" / "sums" / "stack_0001.sum.mrcz")  # one pass: the sum too
    assert np.array_equal(total, counts_of(raw, "stack_0001").sum(axis=0)) and info["frames"] == 6
    stats = json.loads((dest / "results" / "outliers" / "stack_0002.json").read_text())
    assert (
        stats["hot"] > 0
        and stats["timestamp"]
        and (dest / "results" / "outliers" / "stack_0002.defects.txt").exists()
    )
    for rule in ("ingest", "outliers"):
        assert (
            (dest / "logs" / rule / "stack_0002.log").read_text().startswith(f"mrczflow {rule}: stack_0002")
        )
        assert (dest / "logs" / "benchmark" / rule / "stack_0002.tsv").exists()

    again = snakemake(dest, "-n", "--cores", "2")
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    arrive(raw, inputs, [3])
    added = snakemake(dest, "--cores", "2")
    assert added.returncode == 0, added.stderr[-3000:]
    assert jobs_run(added) == {"all": 1, "ingest": 1, "outliers": 1, "session_report": 1}
    assert_outputs_are_the_counts(dest, raw, ["stack_0003"])


def test_forcerun_ingest_rewrites_the_archive_with_a_new_codec(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    configure(
        dest,
        gamma=NO_GAMMA,
        koma=NO_KOMA,
        movies=str(raw / "movies" / "stack_000[01].mrc"),
        compress={"codec": "lz4"},
    )
    assert snakemake(dest, "--cores", "2").returncode == 0
    configure(dest, compress={"codec": "zstd"})
    # The existing archive is compared with the movie (update(): not deleted first), then replaced.
    rerun = snakemake(dest, "--cores", "2", "--forcerun", "ingest")
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert jobs_run(rerun) == {"all": 1, "ingest": 2, "outliers": 2, "session_report": 1}
    with mrcz.MrczReader(dest / "results" / "mrcz" / "stack_0000.mrcz") as reader:
        assert reader.header.codec == "zstd"


def test_vendor_float_movies_are_recovered_exactly(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    gain = mrcz.read(raw / "references" / "gain_vendor.mrc")
    rotated = tmp_path / "gain_rotated.mrc"
    mrcz.write(rotated, np.rot90(gain, k=1), compression=None)  # stored rotated, as K2 references often are
    configure(
        dest,
        gamma=NO_GAMMA,
        koma=NO_KOMA,
        movies=str(raw / "movies_vendor" / "*.mrc"),
        gain={"reference": str(rotated), "rotate": 270},
    )
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_outputs_are_the_counts(dest, raw, [f"stack_{i:04d}" for i in range(4)])
    record = json.loads((dest / "results" / "ingest" / "stack_0000.json").read_text())
    assert record["recovered_from_float"] and record["recovery_max_residual"] < 0.01

    configure(dest, gain={"rotate": 0})
    wrong = snakemake(dest, "--cores", "2", "--forcerun", "ingest", "--keep-going")
    assert wrong.returncode != 0
    log = (dest / "logs" / "ingest" / "stack_0000.log").read_text()
    assert "error: stack_0000:" in log and "after rotate 0" in log and "rotations that fit: [90, 270]" in log


def test_a_corrupt_stack_fails_alone_and_leaves_nothing(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    shutil.copytree(raw / "movies", inputs)
    good = (inputs / "stack_0002.mrc").read_bytes()
    (inputs / "stack_0002.mrc").write_bytes(good[: len(good) - 500])
    configure(dest, gamma=NO_GAMMA, koma=NO_KOMA, movies=str(inputs / "*.mrc"))
    result = snakemake(dest, "--cores", "2", "--keep-going")
    assert result.returncode != 0
    log = (dest / "logs" / "ingest" / "stack_0002.log").read_text()
    assert f"error: stack_0002: {inputs / 'stack_0002.mrc'}: truncated" in log
    assert_outputs_are_the_counts(dest, raw, ["stack_0000", "stack_0001", "stack_0003"])
    leftovers = [
        p.name for p in (dest / "results").rglob("*") if "stack_0002" in p.name or p.name.startswith(".")
    ]
    assert leftovers == []

    # The next run leaves the failed stack out of the report, which names it with its error line.
    again = snakemake(dest, "--cores", "2", "--keep-going")
    assert again.returncode != 0
    summary = (dest / "results" / "report" / "summary.html").read_text()
    assert "3 of 4 stacks processed; 1 failed." in summary
    assert f"stack_0002 failed: ingest: error: stack_0002: {inputs / 'stack_0002.mrc'}: truncated" in summary


def test_counts_out_of_range_stop_unless_clipping_is_allowed(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    inputs.mkdir()
    counts = counts_of(raw, "stack_0000")
    counts[2, 5, 7] = 300
    mrcz.write(inputs / "hot.mrc", counts, compression=None)
    configure(
        dest,
        gamma=NO_GAMMA,
        koma=NO_KOMA,
        movies=str(inputs / "*.mrc"),
        ingest={"dose": {"source": "config", "dose_rate": 4.0, "frame_time": 0.25}},
    )
    result = snakemake(dest, "--cores", "2")
    assert result.returncode != 0
    log = (dest / "logs" / "ingest" / "hot.log").read_text()
    assert "error: hot: frame 2: 1 above 255 (first at y=5, x=7: 300)" in log
    assert not (dest / "results" / "mrcz" / "hot.mrcz").exists()
    configure(dest, compress={"allow_clipping": True})
    clipped = snakemake(dest, "--cores", "2")
    assert clipped.returncode == 0, clipped.stderr[-3000:]
    with mrcz.MrczReader(dest / "results" / "mrcz" / "hot.mrcz") as reader:
        assert reader.metadata["clipped_pixels"] == 1 and reader.read()[2, 5, 7] == 255


def test_tiff_movies(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    configure(dest, gamma=NO_GAMMA, koma=NO_KOMA, movies=str(raw / "movies_tiff" / "*.tif"))
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert_outputs_are_the_counts(dest, raw, [f"stack_{i:04d}" for i in range(4)])


def test_bad_config_is_refused_clearly(tmp_path):
    dest = deploy(tmp_path / "wf")
    configure(dest, compress={"codec": "gzip"})
    result = snakemake(dest, "-n", "--cores", "1")
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "'gzip' is not one of" in output and "['compress']['codec']" in output
    configure(
        dest,
        gamma=NO_GAMMA,
        koma=NO_KOMA,
        compress={"codec": "zstd"},
        movies=str(tmp_path / "nothing" / "*.tif"),
    )
    result = snakemake(dest, "-n", "--cores", "1")
    assert result.returncode != 0 and "no files match" in result.stdout + result.stderr


def test_lint_is_clean(tmp_path):
    result = snakemake(REPO, "--lint", "--cores", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_movies_are_ingested_side_by_side_on_two_cores_and_with_two_threads_in_a_submission(tmp_path, raw):
    """Locally each ingest takes one core (a second only read ahead: 1.3 cores used of 2 on K2 movies), so
    two movies are ingested at once on 2 cores; the cluster profile, whose submissions run their jobs one at
    a time, gives ingest both cores of its submission."""
    dest = deploy(tmp_path / "wf")
    configure(dest, movies=str(raw / "movies" / "*.mrc"), gamma=NO_GAMMA, koma=NO_KOMA)
    plan = snakemake(dest, "-n", "--cores", "2")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    jobs = [block for block in plan.stdout.split("rule ")[1:] if block.startswith("ingest:")]
    assert len(jobs) == 4 and not any("threads:" in job for job in jobs)
    profile = yaml.safe_load((REPO / "profiles" / "cluster" / "config.yaml").read_text())
    assert profile["set-threads"]["ingest"] == 2 and profile["cores"] == 2


def test_eer_movies(tmp_path):
    from .eer_files import write_eer

    dest = deploy(tmp_path / "wf")
    inputs = tmp_path / "incoming"
    inputs.mkdir()
    rng = np.random.default_rng(9)
    movies = {name: rng.random((8, 40, 48)) < 0.05 for name in ("a", "b")}
    for name, events in movies.items():
        write_eer(inputs / f"{name}.eer", events)
    configure(
        dest,
        gamma=NO_GAMMA,
        koma=NO_KOMA,
        movies=str(inputs / "*.eer"),
        ingest={"eer_group": 4, "dose": {"source": "config", "dose_rate": 2.0, "frame_time": 0.05}},
    )
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    for name, events in movies.items():
        out = mrcz.read(dest / "results" / "mrcz" / f"{name}.mrcz")
        assert np.array_equal(out, events.reshape(2, 4, 40, 48).sum(axis=1))


def with_references(dest, raw, pattern="*.mrc"):
    """The raw session's movies, its vacuum references (matching ``pattern``) and vendor gain."""
    configure(
        dest,
        movies=str(raw / "movies" / "*.mrc"),
        gamma={"references": str(raw / "references" / "movies" / pattern)},
        gain={"reference": str(raw / "references" / "gain_vendor.mrc")},
        koma=NO_KOMA,
    )


def test_gamma_stage_and_a_wrongly_oriented_gain(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    with_references(dest, raw)
    result = snakemake(dest, "--cores", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert jobs_run(result) == {
        "all": 1,
        "ingest": 4,
        "outliers": 4,
        "fit_gamma": 1,
        "apply_gain": 4,
        "session_report": 1,
    }
    fit = yaml.safe_load((dest / "results" / "gamma" / "gamma_fit.yaml").read_text())
    assert len(fit["references"]) == 9 and fit["orientation"]["best"] == {"rotate": 0, "flip": "none"}
    assert (dest / "results" / "gamma" / "gamma_fit.png").read_bytes()[:4] == b"\x89PNG"
    info = json.loads((dest / "results" / "gain" / "stack_0001.json").read_text())
    gain = mrcz.read(raw / "references" / "gain_vendor.mrc")
    assert np.allclose(
        mrcz.read(dest / "results" / "gain" / "stack_0001.gain.mrc"), gain ** info["gamma"], rtol=1e-6
    )

    cmos = np.zeros(gain.shape, np.float32)
    cmos[::7] = 0.25  # read-out lines, counts/frame
    mrcz.write(tmp_path / "cmos.mrc", cmos, compression=None)
    configure(dest, gamma={"write_movies": True, "cmos_reference": str(tmp_path / "cmos.mrc")})
    normalised = snakemake(dest, "--cores", "2")
    assert normalised.returncode == 0, normalised.stderr[-3000:]
    # the outlier filter takes the read-out pattern into its expected counts (rule outliers runs again),
    # and the report shows the config the session ran with
    assert jobs_run(normalised) == {"all": 1, "normalise": 4, "outliers": 4, "session_report": 1}
    outlier_stats = json.loads((dest / "results" / "outliers" / "stack_0001.json").read_text())
    assert outlier_stats["readout_reference"] == str(tmp_path / "cmos.mrc")
    movie = mrcz.read(dest / "results" / "gain" / "stack_0001.norm.mrc")
    counts = mrcz.read(raw / "movies" / "stack_0001.mrc").astype(np.float32)
    expected = (counts - cmos) * mrcz.read(dest / "results" / "gain" / "stack_0001.gain.mrc")
    assert movie.dtype == np.float32 and np.allclose(movie, expected, rtol=1e-6)

    configure(dest, gain={"rotate": 180})
    # --keep-going: the stacks' own orientation checks (rule outliers) may stop the run first
    wrong = snakemake(dest, "--cores", "2", "--forcerun", "fit_gamma", "--keep-going")
    assert wrong.returncode != 0
    log = (dest / "logs" / "fit_gamma" / "fit_gamma.log").read_text()
    assert (
        "gain orientation (rotate 180, flip none) disagrees with the references: rotate 0, flip none" in log
    )


def test_too_few_references_stop_the_gamma_fit(tmp_path, raw):
    dest = deploy(tmp_path / "wf")
    with_references(dest, raw, "flat_[0-2]*.mrc")
    result = snakemake(dest, "--cores", "2", "results/gamma/gamma_fit.yaml")
    assert result.returncode != 0
    log = (dest / "logs" / "fit_gamma" / "fit_gamma.log").read_text()
    assert "distinct reference dose rates; Eq. 11 needs at least 5" in log and "fallback_unity" in log
