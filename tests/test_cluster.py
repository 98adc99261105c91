"""A session through `snakemake --profile cluster` on a real single-node SLURM (issues 4 and 15).

Runs in CI, which installs SLURM; elsewhere it is skipped when SLURM is not
installed. The test fails if any job ran outside SLURM (every rule's log must
name the SLURM job it ran in, and that id must be one Snakemake submitted) or
if the movies are not packed into the submissions the profile's batch size
sets.
"""

from __future__ import annotations

import math
import os
import re
import shutil

import numpy as np
import pytest
import yaml

from mrczflow import mrcz

from .slurm_cluster import Cluster
from .workflow_helpers import configure, deploy, jobs_run, snakemake

pytestmark = [pytest.mark.slow, pytest.mark.slurm]


@pytest.fixture(scope="module")
def cluster():
    if shutil.which("slurmctld") is None:
        if os.environ.get("CI"):
            pytest.fail("SLURM is not installed; .ci/run must install slurm-wlm and munge")
        pytest.skip("SLURM not installed here (CI installs it)")
    with Cluster() as running:
        yield running


MDOC = """PixelSpacing = 1.06
ImageFile = {name}

[FrameSet = 0]
ExposureTime = 2
DoseRate = 4
NumSubFrames = 8
DateTime = 26-Nov-26  09:{minute:02d}:00
"""


def session(folder, n: int) -> list[np.ndarray]:
    """``n`` small movies (8 frames of 64 x 64, a hot pixel each) with their .mdoc; EPU-like names."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    movies = []
    for i in range(n):
        movie = rng.poisson(1.0, (8, 64, 64)).astype(np.uint16)
        movie[:, 10, 10 + i % 40] += 30
        name = f"FoilHole_{1000 + (7 * i) % n}_Data_{i}_fractions.mrc"
        mrcz.write(folder / name, movie, compression=None)
        (folder / f"{name}.mdoc").write_text(MDOC.format(name=name, minute=i))
        movies.append(movie)
    return movies


MOVIES = 8


def batch_size(dest) -> dict[str, int]:
    """The profile's movies per submission, by group (its group-components setting)."""
    profile = yaml.safe_load((dest / "profiles" / "cluster" / "config.yaml").read_text())
    return {group: int(n) for group, n in (item.split("=") for item in profile["group-components"])}


def test_a_session_through_the_cluster_profile_packs_movies_into_few_submissions(tmp_path, cluster):
    """Issue 15: 8 movies through `snakemake --profile cluster` on a real SLURM: every job runs on
    the cluster, and the submissions are the batches the profile sets (movies per submission), not
    one per job."""
    dest = deploy(tmp_path / "wf")
    # 8 movies in batches of 4: two full submissions, as 40 in batches of 20 showed in 8.7 minutes
    # of CI (each submission asks for both of the node's cores, so batches run one after the other).
    movies = session(tmp_path / "incoming", MOVIES)
    # KOMA off keeps this test within CI's time (its group is packed the same way: profile `koma=`).
    configure(dest, movies=str(tmp_path / "incoming" / "*.mrc"), koma={"enabled": False})
    profile = dest / "profiles" / "cluster" / "config.yaml"
    profile.write_text(profile.read_text().replace("movie=50", "movie=4").replace("koma=50", "koma=4"))
    batches = batch_size(dest)
    assert batches == {"movie": 4, "koma": 4}
    result = snakemake(dest, "--profile", "cluster")  # exactly the README's cluster command
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", output))
    jobs = jobs_run(result)
    # ingest and outliers per movie (group "movie"), then the report.
    assert jobs == {"ingest": MOVIES, "outliers": MOVIES, "session_report": 1, "all": 1}
    expected = math.ceil(MOVIES / batches["movie"]) + 1
    assert len(submitted) == expected == 3
    logs = sorted((dest / "logs").glob("*/*.log"))
    assert len(logs) == sum(n for rule, n in jobs.items() if rule != "all")
    ran_in = set()
    for log in logs:
        first = log.read_text().splitlines()[0]
        found = re.search(r"\(SLURM job (\d+),", first)
        assert found, f"{log} ran outside SLURM: {first}"
        ran_in.add(found.group(1))
    assert ran_in == submitted  # every job ran inside one of the few submissions, none on the login node
    for i in (0, 5, MOVIES - 1):
        name = f"FoilHole_{1000 + (7 * i) % MOVIES}_Data_{i}_fractions"
        assert np.array_equal(mrcz.read(dest / "results" / "mrcz" / f"{name}.mrcz"), movies[i])
