"""README's two set-up commands stay true: CI runs the test command, the pipeline command works."""

from __future__ import annotations

import re

import pytest

from .workflow_helpers import REPO, snakemake


def readme_commands() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", (REPO / "README.md").read_text(), re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.startswith("pip install")]


def test_ci_runs_the_readme_test_command():
    pipeline, tests = readme_commands()
    assert tests.endswith("python -m pytest --slow")  # the fast tier and the slow one
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert tests in ci_lines


@pytest.mark.slow
def test_readme_pipeline_command_runs_the_demo_then_has_nothing_to_do(demo_run):
    pipeline, _ = readme_commands()
    assert pipeline.endswith("&& snakemake --cores 2")
    dest, result = demo_run  # snakemake --cores 2 in a fresh deployment (shared with the report's test)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert len(list((dest / "results" / "mrcz").glob("stack_*.mrcz"))) == 24
    again = snakemake(dest, "-n", "--cores", "2")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_cluster_command_is_the_one_tested():
    assert "snakemake --profile cluster\n" in (REPO / "README.md").read_text()
    assert (REPO / "cluster").resolve() == (REPO / "profiles" / "cluster").resolve()
