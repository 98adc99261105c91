"""The demo session through `snakemake --profile cluster` on a real single-node SLURM (issue 4).

Runs in CI, which installs SLURM; elsewhere it is skipped when SLURM is not
installed. The test fails if any job ran outside SLURM: every rule's log must
name the SLURM job it ran in, and that id must be one Snakemake submitted.
"""

from __future__ import annotations

import os
import re
import shutil

import numpy as np
import pytest

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


def test_demo_through_cluster_profile(tmp_path, cluster):
    dest = deploy(tmp_path / "wf")
    configure(dest, demo={"n_stacks": 3})
    result = snakemake(dest, "--profile", "cluster")  # exactly the README's cluster command
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    submitted = set(re.findall(r"submitted with SLURM jobid (\d+)", output))
    jobs = jobs_run(result)
    # simulate_demo 1, ingest 3, compress 3, outliers 3, fit_gamma 1, apply_gain 3, koma_sum 3, koma 3,
    # session_report 1: every job on the cluster, none on the login node.
    assert sum(n for rule, n in jobs.items() if rule != "all") == len(submitted) == 21
    logs = sorted((dest / "logs").glob("*/*.log"))
    assert len(logs) == len(submitted)
    for log in logs:
        first = log.read_text().splitlines()[0]
        found = re.search(r"\(SLURM job (\d+),", first)
        assert found, f"{log} ran outside SLURM: {first}"
        assert found.group(1) in submitted, (
            f"{log}: SLURM job {found.group(1)} was not submitted by Snakemake"
        )
    for i in range(3):
        out = mrcz.read(dest / "results" / "mrcz" / f"stack_{i:04d}.mrcz")
        assert np.array_equal(out, mrcz.read(dest / "resources" / "demo" / "movies" / f"stack_{i:04d}.mrc"))
